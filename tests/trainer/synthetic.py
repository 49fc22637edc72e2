"""Small data made by the tests: Downsampled ImageNet files, ImageFolders and CIL files.

The synthetic task is learnable by design: each class has its own colour cast over noise, so a
narrow network separates the classes within a few epochs, while scrambled labels (a wrong label
order, a wrong CIL mapping) would leave it at chance.
"""

from __future__ import annotations

import json
import pickle
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image

from imagenet_files.label_order import read_label_order
from trainer.config import Config

ORDER = read_label_order()
# Files' 1-based labels used by the synthetic data, and the wnids the devkit order gives them.
FILE_LABELS = (1, 449, 1000, 500)
WNIDS = tuple(ORDER[label - 1] for label in FILE_LABELS)


def class_images(
    class_number: int, count: int, rng: np.random.Generator, size: int = 32
) -> np.ndarray:
    """uint8 N x 3 x S x S images of synthetic class `class_number` (0..3): noise plus a colour
    cast (red, green, blue, grey)."""
    images = rng.integers(0, 90, (count, 3, size, size))
    if class_number < 3:
        images[:, class_number] += 150
    else:
        images += 110
    return np.clip(images, 0, 255).astype(np.uint8)


def synthetic_split(per_class: int, seed: int, size: int = 32) -> tuple[np.ndarray, list[int]]:
    """Images of all four classes, interleaved, with their file labels (FILE_LABELS)."""
    rng = np.random.default_rng(seed)
    blocks = [class_images(c, per_class, rng, size) for c in range(len(FILE_LABELS))]
    images = np.stack(blocks, axis=1).reshape(-1, 3, size, size)
    labels = [FILE_LABELS[c] for _ in range(per_class) for c in range(len(FILE_LABELS))]
    return images, labels


def write_downsampled(
    path: Path, images: np.ndarray, labels: list[int], *, npz: bool = False, protocol: int = 4
) -> Path:
    """One file as released: channel-planar uint8 rows, 1-based labels (a list), the mean."""
    content = {
        "data": images.reshape(len(images), -1),
        "labels": list(labels),
        "mean": images.reshape(len(images), -1).mean(axis=0),
    }
    if npz:
        path = path.with_name(path.name + ".npz")
        np.savez(path, **content)
    else:
        path.write_bytes(pickle.dumps(content, protocol=protocol))
    return path


def write_downsampled_dataset(
    root: Path,
    *,
    train_per_class: int = 32,
    val_per_class: int = 8,
    batches: int = 2,
    size: int = 32,
) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for number in range(1, batches + 1):
        images, labels = synthetic_split(train_per_class // batches, seed=number, size=size)
        write_downsampled(root / f"train_data_batch_{number}", images, labels)
    images, labels = synthetic_split(val_per_class, seed=100, size=size)
    write_downsampled(root / "val_data", images, labels)
    return root


def write_image_folder(root: Path, *, per_class: int = 4, size: int = 32) -> Path:
    """train/<wnid>/ and val/<wnid>/ PNGs of the synthetic classes, named by WNIDS."""
    for split, seed in (("train", 1), ("val", 2)):
        rng = np.random.default_rng(seed)
        for number, wnid in enumerate(WNIDS):
            folder = root / split / wnid
            folder.mkdir(parents=True)
            for i, image in enumerate(class_images(number, per_class, rng, size)):
                Image.fromarray(image.transpose(1, 2, 0)).save(folder / f"{wnid}_{i}.png")
    return root


def write_flat_cil(path: Path, mapping: dict[str, str]) -> Path:
    path.write_text(json.dumps(mapping))
    return path


def pair_cil(path: Path, classes: tuple[str, ...] = tuple(ORDER)) -> Path:
    """A flat CIL over `classes`: the first two synthetic classes become "alpha", the other two
    "beta", every other class "rest"."""
    mapping = {wnid: "rest" for wnid in classes}
    mapping.update({WNIDS[0]: "alpha", WNIDS[1]: "alpha", WNIDS[2]: "beta", WNIDS[3]: "beta"})
    return write_flat_cil(path, mapping)


def tiny_config(data_dir: Path, out: Path | None, **changes: object) -> Config:
    """A run that takes a second or two on a CPU: a width-8 ResNet-18, small batches."""
    config = Config(
        data_dir=data_dir,
        out=out,
        width=8,
        batch_size=16,
        epochs=2,
        lr=0.02,
        device="cpu",
        workers=0,
        seed=1,
    )
    return replace(config, **changes)
