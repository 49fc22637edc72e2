"""Reading a dataset folder into memory: the official Downsampled ImageNet files or an ImageFolder.

Whatever the layout on disk, a split becomes one uint8 tensor N x 3 x S x S and an int64 tensor
of class indices into `Dataset.classes`, the sorted wnids (torchvision's ImageFolder order). The
official files' own 1-based labels are mapped to wnids through the devkit order here, once, so
nothing after this module sees them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torchvision.transforms.functional import pil_to_tensor
from tqdm import tqdm

from trainer.downsampled_files import DataLayoutError, read_downsampled_file
from trainer.label_order import read_label_order

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
class Split:
    images: torch.Tensor  # uint8, N x 3 x S x S, RGB
    targets: torch.Tensor  # int64, N: indices into Dataset.classes

    def __len__(self) -> int:
        return len(self.targets)


@dataclass(frozen=True)
class Dataset:
    classes: tuple[str, ...]  # wnids (ImageFolder: folder names), sorted
    train: Split
    val: Split
    layout: str  # "downsampled" or "imagefolder"

    @property
    def image_size(self) -> int:
        return self.train.images.shape[-1]


@dataclass(frozen=True)
class DownsampledLayout:
    train_files: tuple[Path, ...]  # train_data_batch_1, _2, ... in number order
    val_file: Path


@dataclass(frozen=True)
class FolderLayout:
    train_dir: Path
    val_dir: Path


def load_dataset(
    data_dir: Path,
    *,
    label_order: Path | None = None,
    image_size: int | None = None,
    workers: int = 0,
    progress: bool = True,
) -> Dataset:
    """Read DATA_DIR in whichever accepted layout it has (see ACCEPTED_LAYOUTS)."""
    layout = detect_layout(Path(data_dir))
    if isinstance(layout, DownsampledLayout):
        return _load_downsampled(layout, label_order, image_size, progress)
    return _load_folder(layout, image_size, workers, progress)


# --- finding the layout --------------------------------------------------------------------------
def detect_layout(data_dir: Path) -> DownsampledLayout | FolderLayout:
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


# --- Downsampled ImageNet files ----------------------------------------------------------------
def _load_downsampled(
    layout: DownsampledLayout, label_order: Path | None, image_size: int | None, progress: bool
) -> Dataset:
    order = read_label_order(label_order)
    classes = tuple(sorted(order))
    index = {wnid: i for i, wnid in enumerate(classes)}
    # lookup[L - 1] is the sorted-order class index of the files' label L
    lookup = np.array([index[wnid] for wnid in order], dtype=np.int64)

    def read(files: tuple[Path, ...], name: str) -> Split:
        images, targets = [], []
        for path in tqdm(
            files, desc=f"read {name}", disable=None if progress else True, leave=False
        ):
            data, labels = read_downsampled_file(path)
            bad = labels[(labels < 1) | (labels > len(order))]
            if bad.size:
                raise DataLayoutError(
                    f"{path}: label {bad[0]} is outside 1..{len(order)} of the label order"
                )
            images.append(data)
            targets.append(lookup[labels - 1])
        sizes = {im.shape[-1] for im in images}
        if len(sizes) > 1:
            raise DataLayoutError(f"the {name} files mix image sizes {sorted(sizes)}")
        return Split(
            torch.from_numpy(np.concatenate(images)), torch.from_numpy(np.concatenate(targets))
        )

    train = read(layout.train_files, "train")
    val = read((layout.val_file,), "val")
    if val.images.shape[-1] != train.images.shape[-1]:
        raise DataLayoutError("val_data and the train_data_batch files differ in image size")
    if image_size is not None and image_size != train.images.shape[-1]:
        raise DataLayoutError(
            f"the files hold {train.images.shape[-1]} px images; --image-size {image_size} "
            "applies to ImageFolder data only"
        )
    return Dataset(classes, train, val, "downsampled")


# --- ImageFolder ----------------------------------------------------------------------------------
def _scan(split_dir: Path) -> dict[str, list[Path]]:
    return {
        folder.name: sorted(
            p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
        )
        for folder in sorted(split_dir.iterdir())
        if folder.is_dir()
    }


class _ImageFiles(torch.utils.data.Dataset):
    """Decodes image files to uint8 CHW at one size, in DataLoader workers."""

    def __init__(self, paths: list[Path], size: int) -> None:
        self.paths, self.size = paths, size

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> torch.Tensor:
        with Image.open(self.paths[i]) as opened:
            image = opened.convert("RGB")
        if image.size != (self.size, self.size):
            # Box filtering is how the official Downsampled ImageNet was made.
            image = image.resize((self.size, self.size), Image.Resampling.BOX)
        return pil_to_tensor(image)


def _load_folder(
    layout: FolderLayout, image_size: int | None, workers: int, progress: bool
) -> Dataset:
    train_files, val_files = _scan(layout.train_dir), _scan(layout.val_dir)
    classes = tuple(name for name, paths in train_files.items() if paths)
    if not classes:
        raise DataLayoutError(
            f"{layout.train_dir} has no class folders with images in them.\n{ACCEPTED_LAYOUTS}"
        )
    unknown = sorted(name for name, paths in val_files.items() if paths and name not in classes)
    if unknown:
        raise DataLayoutError(
            f"{layout.val_dir} has classes without training images: {', '.join(unknown)}"
        )
    if image_size is None:
        with Image.open(train_files[classes[0]][0]) as first:
            image_size = first.size[0]
    index = {name: i for i, name in enumerate(classes)}

    def read(files: dict[str, list[Path]], name: str) -> Split:
        paths = [path for cls in files for path in files[cls]]
        targets = torch.tensor([index[cls] for cls in files for _ in files[cls]], dtype=torch.int64)
        if not paths:
            raise DataLayoutError(f"the {name} folder holds no images")
        images = torch.empty((len(paths), 3, image_size, image_size), dtype=torch.uint8)
        loader = torch.utils.data.DataLoader(
            _ImageFiles(paths, image_size), batch_size=256, num_workers=workers
        )
        start = 0
        for batch in tqdm(
            loader, desc=f"decode {name}", disable=None if progress else True, leave=False
        ):
            images[start : start + len(batch)] = batch
            start += len(batch)
        return Split(images, targets)

    return Dataset(classes, read(train_files, "train"), read(val_files, "val"), "imagefolder")
