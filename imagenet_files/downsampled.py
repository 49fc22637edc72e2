"""Reading one file of the official Downsampled ImageNet release (pickle or npz)."""

from __future__ import annotations

import math
import pickle
import re
from pathlib import Path

import numpy as np

from imagenet_files.layout import DataLayoutError

# Only these globals may appear in an official pickle; any other name means a foreign or
# tampered file, and a general unpickler would import and run it.
PICKLE_GLOBALS = frozenset(
    {
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy._core.numeric", "_frombuffer"),  # how protocol 5 stores an array's bytes
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),  # how protocol 2 stores bytes from Python 3: harmless
    }
)


class _ArrayUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> object:
        # Files written by numpy 1.x name numpy.core, a deprecated alias in numpy 2 (it warns).
        module = re.sub(r"^numpy\.core\b", "numpy._core", module)
        if (module, name) not in PICKLE_GLOBALS:
            raise pickle.UnpicklingError(
                f"{module}.{name} has no place in a Downsampled ImageNet file; refusing to load it"
            )
        return super().find_class(module, name)


def read_downsampled_file(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One official file as (images uint8 N x 3 x S x S, labels int64 N as stored: 1-based).

    The rows are channel-planar (1,024 red values, then green, then blue, each row-major), so a
    plain reshape gives CHW RGB.
    """
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                content = {key: archive[key] for key in archive.files}
        else:
            with open(path, "rb") as handle:
                content = _ArrayUnpickler(handle, encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError, OSError) as error:
        raise DataLayoutError(
            f"{path} is not a readable Downsampled ImageNet file: {error}"
        ) from error
    if not isinstance(content, dict) or not {"data", "labels"} <= set(content):
        raise DataLayoutError(f"{path} has no 'data' and 'labels' entries")
    data = np.asarray(content["data"])
    labels = np.asarray(content["labels"], dtype=np.int64).reshape(-1)
    side = math.isqrt(data.shape[-1] // 3) if data.ndim == 2 else 0
    if data.dtype != np.uint8 or side == 0 or 3 * side * side != data.shape[1]:
        raise DataLayoutError(
            f"{path}: 'data' should be uint8 rows of 3 x S x S values, "
            f"not {data.dtype} {data.shape}"
        )
    if len(labels) != len(data):
        raise DataLayoutError(f"{path}: {len(data)} images but {len(labels)} labels")
    return data.reshape(-1, 3, side, side), labels
