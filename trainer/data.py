"""Reading a dataset folder into memory: the official Downsampled ImageNet files or an ImageFolder.

Whatever the layout on disk, a split becomes one uint8 tensor N x 3 x S x S and an int64 tensor
of class indices into `Dataset.classes`, the sorted wnids (torchvision's ImageFolder order). The
official files' own 1-based labels are mapped to wnids through the devkit order here, once, so
nothing after this module sees them.

Under DDP the processes of one machine hold the images once (`Sharing`): the first reads the
files one at a time into a file in shared memory, and every process maps that file, so the pages
are shared (and there is no second copy while the files are joined).
"""

from __future__ import annotations

import ctypes
import json
import math
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from imagenet_files.downsampled import read_downsampled_file
from imagenet_files.image_input import to_input
from imagenet_files.label_order import read_label_order
from imagenet_files.layout import (
    ACCEPTED_LAYOUTS,
    IMAGE_SUFFIXES,
    DataLayoutError,
    DownsampledLayout,
    FolderLayout,
    detect_layout,
)


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

    def splits(self) -> tuple[tuple[str, Split], ...]:
        return (("train", self.train), ("val", self.val))


@dataclass(frozen=True)
class Sharing:
    """How the processes of one machine share the images: through files in `folder`."""

    folder: Path  # in shared memory where there is room (see run.read_data)
    writer: bool  # this process reads the dataset and writes the files
    wait: Callable[[], None]  # returns once every process has called it


def data_classes(data_dir: Path, label_order: Path | None = None) -> tuple[str, ...]:
    """The sorted class wnids of DATA_DIR, found without reading an image, so that errors in the
    labels or the model are reported before minutes of loading."""
    layout = detect_layout(Path(data_dir))
    if isinstance(layout, DownsampledLayout):
        return tuple(sorted(read_label_order(label_order)))
    return _folder_classes(layout)


def load_dataset(
    data_dir: Path,
    *,
    label_order: Path | None = None,
    image_size: int | None = None,
    workers: int = 0,
    progress: bool = True,
    sharing: Sharing | None = None,
) -> Dataset:
    """Read DATA_DIR in whichever accepted layout it has (see ACCEPTED_LAYOUTS); with `sharing`,
    once for all the processes of the machine."""
    if sharing is None:
        dataset = _load(Path(data_dir), label_order, image_size, workers, progress, None)
        _give_back_freed_memory()
        return dataset
    folder = sharing.folder
    if sharing.writer:
        folder.mkdir(parents=True, exist_ok=True)
        try:
            dataset = _load(Path(data_dir), label_order, image_size, workers, progress, folder)
            _write_description(dataset, folder)
            _give_back_freed_memory()
        except Exception as error:
            # the others wait for the files: tell them, then fail alike
            (folder / "error.txt").write_text(str(error))
            sharing.wait()
            raise
    sharing.wait()
    if not sharing.writer:
        if (folder / "error.txt").exists():
            raise DataLayoutError((folder / "error.txt").read_text())
        dataset = _map_dataset(folder)
    sharing.wait()
    if sharing.writer:  # every process has mapped the files: their pages live as long as a map
        shutil.rmtree(folder)
    return dataset


def load_validation(
    data_dir: Path,
    *,
    label_order: Path | None = None,
    image_size: int | None = None,
    workers: int = 0,
    progress: bool = True,
) -> tuple[tuple[str, ...], Split]:
    """The data's classes and validation split, for the commands that only score a model. Of
    Downsampled ImageNet only val_data is read; an ImageFolder is read whole, as its image size
    is by default its first training image's."""
    layout = detect_layout(Path(data_dir))
    if not isinstance(layout, DownsampledLayout):
        dataset = load_dataset(data_dir, image_size=image_size, workers=workers, progress=progress)
        return dataset.classes, dataset.val
    order = read_label_order(label_order)
    val = read_downsampled_split((layout.val_file,), order, "val", progress)
    _check_image_size(val, image_size)
    return tuple(sorted(order)), val


def _give_back_freed_memory() -> None:
    """Return to the system the heap that reading the files freed. glibc keeps freed blocks of a
    file's size for reuse (its mmap threshold rises with each large free), which would hold a
    quarter of a small dataset's size for the whole run (tests/trainer/test_ddp.py measures it).
    Without glibc there is nothing to do."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    libc.malloc_trim(0)


def _load(
    data_dir: Path,
    label_order: Path | None,
    image_size: int | None,
    workers: int,
    progress: bool,
    spill: Path | None,
) -> Dataset:
    layout = detect_layout(data_dir)
    if isinstance(layout, DownsampledLayout):
        return _load_downsampled(layout, label_order, image_size, progress, spill)
    return _load_folder(layout, image_size, workers, progress, spill)


# --- images in a file that every process maps -----------------------------------------------------
def _mapped(path: Path, shape: tuple[int, ...]) -> torch.Tensor:
    """The uint8 array in file `path` as a tensor over a shared mapping: its pages are the page
    cache's, counted once however many processes map them."""
    return torch.from_file(str(path), shared=True, size=math.prod(shape), dtype=torch.uint8).view(
        shape
    )


def _write_description(dataset: Dataset, folder: Path) -> None:
    for name, split in (("train", dataset.train), ("val", dataset.val)):
        np.save(folder / f"{name}_targets.npy", split.targets.numpy())
    shapes = {name: list(split.images.shape) for name, split in dataset.splits()}
    description = {"classes": list(dataset.classes), "layout": dataset.layout, "shapes": shapes}
    (folder / "dataset.json").write_text(json.dumps(description))


def _map_dataset(folder: Path) -> Dataset:
    description = json.loads((folder / "dataset.json").read_text())
    splits = {
        name: Split(
            _mapped(folder / f"{name}.u8", tuple(shape)),
            torch.from_numpy(np.load(folder / f"{name}_targets.npy")),
        )
        for name, shape in description["shapes"].items()
    }
    return Dataset(
        tuple(description["classes"]), splits["train"], splits["val"], description["layout"]
    )


# --- Downsampled ImageNet files ----------------------------------------------------------------
def _load_downsampled(
    layout: DownsampledLayout,
    label_order: Path | None,
    image_size: int | None,
    progress: bool,
    spill: Path | None,
) -> Dataset:
    order = read_label_order(label_order)
    train = read_downsampled_split(layout.train_files, order, "train", progress, spill)
    val = read_downsampled_split((layout.val_file,), order, "val", progress, spill)
    if val.images.shape[-1] != train.images.shape[-1]:
        raise DataLayoutError("val_data and the train_data_batch files differ in image size")
    _check_image_size(train, image_size)
    return Dataset(tuple(sorted(order)), train, val, "downsampled")


def _check_image_size(split: Split, image_size: int | None) -> None:
    if image_size is not None and image_size != split.images.shape[-1]:
        raise DataLayoutError(
            f"the files hold {split.images.shape[-1]} px images; --image-size {image_size} "
            "applies to ImageFolder data only"
        )


def read_downsampled_split(
    files: tuple[Path, ...],
    order: list[str],
    name: str,
    progress: bool = True,
    spill: Path | None = None,
) -> Split:
    """One split of Downsampled ImageNet from its files, the targets as indices of the sorted
    wnids of `order` (the files' 1-based labels); with `spill`, the images in a shared file."""
    index = {wnid: i for i, wnid in enumerate(sorted(order))}
    # lookup[L - 1] is the sorted-order class index of the files' label L
    lookup = np.array([index[wnid] for wnid in order], dtype=np.int64)
    images, targets, sizes, count = [], [], set(), 0
    out = (spill / f"{name}.u8").open("wb") if spill else None
    for path in tqdm(files, desc=f"read {name}", disable=None if progress else True, leave=False):
        data, labels = read_downsampled_file(path)
        bad = labels[(labels < 1) | (labels > len(order))]
        if bad.size:
            raise DataLayoutError(
                f"{path}: label {bad[0]} is outside 1..{len(order)} of the label order"
            )
        if out:  # one file in memory at a time
            out.write(np.ascontiguousarray(data).data)
        else:
            images.append(data)
        targets.append(lookup[labels - 1])
        sizes.add(data.shape[-1])
        count += len(data)
    if len(sizes) > 1:
        raise DataLayoutError(f"the {name} files mix image sizes {sorted(sizes)}")
    if out:
        out.close()
        side = sizes.pop()
        joined = _mapped(spill / f"{name}.u8", (count, 3, side, side))
    else:
        joined = torch.from_numpy(np.concatenate(images))
    return Split(joined, torch.from_numpy(np.concatenate(targets)))


# --- ImageFolder ----------------------------------------------------------------------------------
def _scan(split_dir: Path) -> dict[str, list[Path]]:
    return {
        folder.name: sorted(
            p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
        )
        for folder in sorted(split_dir.iterdir())
        if folder.is_dir()
    }


def _folder_classes(
    layout: FolderLayout, train_files: dict[str, list[Path]] | None = None
) -> tuple[str, ...]:
    """The class folders of train/ that hold images, in sorted order."""
    train_files = _scan(layout.train_dir) if train_files is None else train_files
    classes = tuple(name for name, paths in train_files.items() if paths)
    if not classes:
        raise DataLayoutError(
            f"{layout.train_dir} has no class folders with images in them.\n{ACCEPTED_LAYOUTS}"
        )
    return classes


class _ImageFiles(torch.utils.data.Dataset):
    """Decodes image files to uint8 CHW at one size, in DataLoader workers."""

    def __init__(self, paths: list[Path], size: int) -> None:
        self.paths, self.size = paths, size

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> torch.Tensor:
        with Image.open(self.paths[i]) as opened:
            image = opened.convert("RGB")
        # Squashed and box-filtered as Downsampled ImageNet was made, by the same function that
        # prepares a user's picture for predict and the demo page. (Not torchvision's
        # pil_to_tensor: importing torchvision pulls in torch._dynamo, seconds per process.)
        return torch.from_numpy(to_input(image, self.size))


def _load_folder(
    layout: FolderLayout,
    image_size: int | None,
    workers: int,
    progress: bool,
    spill: Path | None,
) -> Dataset:
    train_files, val_files = _scan(layout.train_dir), _scan(layout.val_dir)
    classes = _folder_classes(layout, train_files)
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
        shape = (len(paths), 3, image_size, image_size)
        if spill:
            with (spill / f"{name}.u8").open("wb") as handle:
                handle.truncate(math.prod(shape))
            images = _mapped(spill / f"{name}.u8", shape)
        else:
            images = torch.empty(shape, dtype=torch.uint8)
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
