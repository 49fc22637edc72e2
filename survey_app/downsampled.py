"""Downsampled ImageNet (the official 32 or 64 px files) as an image source.

The files hold all images of a split in one array, labelled in the ILSVRC
devkit's order, which is too big to keep in every worker process. So the first
use writes the first few images of each class as PNG files into an ordinary
`<wnid>/` folder tree in the thumbnail cache, and the app reads that folder from
then on. The pickles are read with an unpickler that admits numpy arrays only:
a general one would run whatever code a tampered file names.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from imagenet_files.downsampled import read_downsampled_file
from imagenet_files.label_order import read_label_order

# val_data first: it is the smallest file that still has 50 images of every class.
FILE_NAMES = ("val_data", "val_data.npz", "train_data_batch_1", "train_data_batch_1.npz")


def find_file(folder: Path) -> Path | None:
    """The file to show images from, in `folder` or one folder below it."""
    places = [folder, *sorted(p for p in folder.iterdir() if p.is_dir())]
    for name in FILE_NAMES:
        for place in places:
            if (place / name).is_file():
                return place / name
    return None


def read_file(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 N x S x S x 3, labels as stored: 1-based, devkit order)."""
    images, labels = read_downsampled_file(path)
    return images.transpose(0, 2, 3, 1), labels


def extract(path: Path, out_dir: Path, per_class: int) -> None:
    """Write the first `per_class` images of each class to `out_dir/<wnid>/<k>.png`.

    Written to a temporary folder and renamed into place, so a concurrent
    worker either finds the whole tree or none of it.
    """
    images, labels = read_file(path)
    order = read_label_order()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".extract-", dir=out_dir.parent))
    try:
        for label, wnid in enumerate(order, start=1):
            rows = np.flatnonzero(labels == label)[:per_class]
            if rows.size:
                (staging / wnid).mkdir()
            for k, row in enumerate(rows):
                Image.fromarray(images[row]).save(staging / wnid / f"{k}.png")
        os.replace(staging, out_dir)
    except OSError:
        if not out_dir.is_dir():  # not a lost race with another worker: a real failure
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
