"""The dataset folder layouts: which files of DATA_DIR hold the training and validation images.

Only paths are found here; reading them is for `imagenet_files.downsampled` and the trainer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path


class DataLayoutError(ValueError):
    """A dataset folder, or a file in it, is not in a layout read here; the message says why."""


ACCEPTED_LAYOUTS = """\
Accepted layouts:
  1. Downsampled ImageNet as released (32 or 64 px, pickle or npz): train_data_batch_1 ..
     train_data_batch_10 and val_data, in DATA_DIR or in folders one level below it
     (e.g. DATA_DIR/Imagenet32_train/ and DATA_DIR/Imagenet32_val/).
  2. ImageFolder: DATA_DIR/train/<wnid>/<image> and DATA_DIR/val/<wnid>/<image>
     (png, jpg, jpeg, bmp or webp)."""
TRAIN_FILE_RE = re.compile(r"^train_data_batch_(\d+)(\.npz)?$")
VAL_FILE_RE = re.compile(r"^val_data(\.npz)?$")
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".webp"})


@dataclass(frozen=True)
class DownsampledLayout:
    train_files: tuple[Path, ...]  # train_data_batch_1, _2, ... in number order
    val_file: Path


@dataclass(frozen=True)
class FolderLayout:
    train_dir: Path
    val_dir: Path


def detect_layout(data_dir: Path) -> DownsampledLayout | FolderLayout:
    """The files of DATA_DIR in the first accepted layout it matches (see ACCEPTED_LAYOUTS)."""
    if not data_dir.is_dir():
        raise DataLayoutError(f"DATA_DIR {data_dir} is not a folder.\n{ACCEPTED_LAYOUTS}")
    train_files: dict[int, list[Path]] = {}
    val_files: list[Path] = []
    for folder in [data_dir, *sorted(p for p in data_dir.iterdir() if p.is_dir())]:
        for path in sorted(folder.iterdir()):
            if match := TRAIN_FILE_RE.match(path.name):
                train_files.setdefault(int(match.group(1)), []).append(path)
            elif VAL_FILE_RE.match(path.name):
                val_files.append(path)
    if train_files or val_files:
        return _downsampled_layout(data_dir, train_files, val_files)
    train_dir, val_dir = data_dir / "train", data_dir / "val"
    if train_dir.is_dir() or val_dir.is_dir():
        missing = [p.name + "/" for p in (train_dir, val_dir) if not p.is_dir()]
        if missing:
            raise _layout_error(data_dir, f"an ImageFolder layout without {missing[0]}")
        return FolderLayout(train_dir, val_dir)
    raise _layout_error(data_dir, "neither layout")


def _downsampled_layout(
    data_dir: Path, train_files: dict[int, list[Path]], val_files: list[Path]
) -> DownsampledLayout:
    doubled = [paths for paths in train_files.values() if len(paths) > 1]
    if doubled or len(val_files) > 1:
        places = ", ".join(str(p) for p in (doubled[0] if doubled else val_files))
        raise _layout_error(
            data_dir, f"the same file in more than one place ({places}); keep one resolution"
        )
    if not val_files:
        raise _layout_error(data_dir, "train_data_batch_* files but no val_data")
    if not train_files:
        raise _layout_error(data_dir, "val_data but no train_data_batch_* files")
    gaps = sorted(set(range(1, max(train_files) + 1)) - set(train_files))
    if gaps:
        names = ", ".join(f"train_data_batch_{n}" for n in gaps)
        raise _layout_error(data_dir, f"Downsampled ImageNet files with {names} missing")
    files = tuple(train_files[n][0] for n in sorted(train_files))
    return DownsampledLayout(files, val_files[0])


def _layout_error(data_dir: Path, found: str) -> DataLayoutError:
    entries = sorted(p.name + ("/" if p.is_dir() else "") for p in data_dir.iterdir())
    shown = ", ".join(entries[:20]) + (
        f", ... ({len(entries)} entries)" if len(entries) > 20 else ""
    )
    return DataLayoutError(
        f"DATA_DIR {data_dir} is not a dataset the trainer reads: found {found}.\n"
        f"It holds: {shown or 'nothing'}\n{ACCEPTED_LAYOUTS}"
    )
