"""Reading the official files and ImageFolders, and mapping the files' labels to wnids."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from imagenet_files.label_order import read_label_order
from imagenet_files.layout import DataLayoutError
from tests.trainer.synthetic import (
    FILE_LABELS,
    WNIDS,
    class_images,
    synthetic_split,
    write_downsampled,
    write_downsampled_dataset,
    write_image_folder,
)
from trainer.data import Sharing, load_dataset, load_validation

# The anchor points of shared/data/README.md: (file label, wnid, sorted class index).
ANCHORS = [(1, "n02119789", 278), (449, "n01440764", 0), (1000, "n03255030", None)]


def test_pickle_labels_map_to_wnids_at_the_anchor_points(tmp_path):
    rng = np.random.default_rng(0)
    images = class_images(0, 3, rng)
    labels = [label for label, _, _ in ANCHORS]
    write_downsampled(tmp_path / "train_data_batch_1", images, labels)
    write_downsampled(tmp_path / "val_data", images, labels)

    dataset = load_dataset(tmp_path, progress=False)

    assert dataset.layout == "downsampled" and len(dataset.classes) == 1000
    assert [dataset.classes[t] for t in dataset.train.targets] == [w for _, w, _ in ANCHORS]
    assert dataset.train.targets[:2].tolist() == [278, 0]
    assert np.array_equal(dataset.train.images.numpy(), images)


def test_npz_release_and_subfolders_are_found(tmp_path):
    images, labels = synthetic_split(2, seed=0, size=64)
    train, val = tmp_path / "Imagenet64_train_npz", tmp_path / "Imagenet64_val_npz"
    train.mkdir()
    val.mkdir()
    write_downsampled(train / "train_data_batch_1", images, labels, npz=True)
    write_downsampled(val / "val_data", images, labels, npz=True)

    dataset = load_dataset(tmp_path, progress=False)

    assert dataset.image_size == 64 and len(dataset.val) == 8
    assert [dataset.classes[t] for t in dataset.val.targets[:4]] == list(WNIDS)


def test_a_user_label_order_changes_the_mapping(tmp_path):
    order = read_label_order()
    swapped = [order[448], *order[1:448], order[0], *order[449:]]
    (tmp_path / "map_clsloc.txt").write_text(
        "".join(f"{wnid} {i}\n" for i, wnid in enumerate(swapped, start=1))
    )
    data = tmp_path / "data"
    data.mkdir()
    images, _ = synthetic_split(1, seed=0)
    write_downsampled(data / "train_data_batch_1", images[:2], [1, 449])
    write_downsampled(data / "val_data", images[:2], [1, 449])

    dataset = load_dataset(data, label_order=tmp_path / "map_clsloc.txt", progress=False)

    assert [dataset.classes[t] for t in dataset.train.targets] == ["n01440764", "n02119789"]


def test_image_folder_is_read_in_sorted_wnid_order(tmp_path):
    write_image_folder(tmp_path, per_class=2)
    dataset = load_dataset(tmp_path, progress=False)
    assert dataset.layout == "imagefolder"
    assert dataset.classes == tuple(sorted(WNIDS))
    assert len(dataset.train) == len(dataset.val) == 8
    first = dataset.train.images[0].float().mean(dim=(1, 2))
    # the first sorted class is WNIDS[1] (tench), the green one
    assert dataset.classes[dataset.train.targets[0]] == WNIDS[1] == "n01440764"
    assert first.argmax() == 1


def test_image_folder_images_are_resized_to_one_size(tmp_path):
    write_image_folder(tmp_path, per_class=1, size=40)
    dataset = load_dataset(tmp_path, image_size=16, progress=False)
    assert tuple(dataset.train.images.shape) == (4, 3, 16, 16)


def test_image_folder_val_class_without_training_images_is_refused(tmp_path):
    write_image_folder(tmp_path, per_class=1)
    extra = tmp_path / "val" / "n09999999"
    extra.mkdir()
    (tmp_path / "val" / WNIDS[0] / f"{WNIDS[0]}_0.png").rename(extra / "x.png")
    with pytest.raises(DataLayoutError, match="n09999999"):
        load_dataset(tmp_path, progress=False)


def test_unknown_layout_lists_the_accepted_ones_and_what_was_found(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "notes.txt").write_text("")
    with pytest.raises(DataLayoutError) as error:
        load_dataset(tmp_path, progress=False)
    message = str(error.value)
    assert "found neither layout" in message
    assert "images/, notes.txt" in message
    assert "train_data_batch_1" in message and "DATA_DIR/train/<wnid>/" in message


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (["train_data_batch_1"], "no val_data"),
        (["val_data"], "no train_data_batch"),
        (["train_data_batch_1", "train_data_batch_3", "val_data"], "train_data_batch_2 missing"),
        (["a/train_data_batch_1", "b/train_data_batch_1", "a/val_data"], "more than one place"),
    ],
)
def test_incomplete_downsampled_layouts_say_what_is_missing(tmp_path, files, message):
    images, _ = synthetic_split(1, seed=0)
    for name in files:
        (tmp_path / name).parent.mkdir(exist_ok=True)
        write_downsampled(tmp_path / name, images[:1], [FILE_LABELS[0]])
    with pytest.raises(DataLayoutError, match=message):
        load_dataset(tmp_path, progress=False)


def test_image_folder_without_val_is_named(tmp_path):
    (tmp_path / "train" / WNIDS[0]).mkdir(parents=True)
    with pytest.raises(DataLayoutError, match="an ImageFolder layout without val/"):
        load_dataset(tmp_path, progress=False)


def test_labels_outside_the_order_are_refused(tmp_path):
    images, _ = synthetic_split(1, seed=0)
    write_downsampled(tmp_path / "train_data_batch_1", images[:1], [0])
    write_downsampled(tmp_path / "val_data", images[:1], [1])
    with pytest.raises(DataLayoutError, match=r"label 0 is outside 1\.\.1000"):
        load_dataset(tmp_path, progress=False)


def test_validation_alone_reads_no_training_file(tmp_path):
    images, labels = synthetic_split(2, seed=0)
    write_downsampled(tmp_path / "val_data", images, labels)
    (tmp_path / "train_data_batch_1").write_bytes(b"not a pickle")  # found, never opened

    classes, val = load_validation(tmp_path, progress=False)

    assert len(classes) == 1000 and np.array_equal(val.images.numpy(), images)
    assert [classes[t] for t in val.targets[:4]] == list(WNIDS)
    with pytest.raises(DataLayoutError, match="--image-size 64 applies to ImageFolder data"):
        load_validation(tmp_path, image_size=64, progress=False)


@pytest.mark.parametrize("layout", ["downsampled", "imagefolder"])
def test_a_shared_load_maps_the_same_data_and_cleans_up(tmp_path, layout):
    data = tmp_path / "data"
    if layout == "downsampled":
        write_downsampled_dataset(data, train_per_class=4, val_per_class=2)
    else:
        write_image_folder(data, per_class=2)
    plain = load_dataset(data, progress=False)
    folder = tmp_path / "shm" / "run"
    shared = load_dataset(data, progress=False, sharing=Sharing(folder, True, lambda: None))
    assert shared.classes == plain.classes and shared.layout == layout
    for (_, mine), (_, theirs) in zip(shared.splits(), plain.splits(), strict=True):
        assert torch.equal(mine.images, theirs.images) and torch.equal(mine.targets, theirs.targets)
    assert not folder.exists()  # the mapping outlives the file


def test_the_waiting_processes_get_the_readers_error(tmp_path):
    folder = tmp_path / "shm"
    folder.mkdir()
    (folder / "error.txt").write_text("DATA_DIR x is not a folder")
    waits = []
    with pytest.raises(DataLayoutError, match="x is not a folder"):
        load_dataset(
            tmp_path, progress=False, sharing=Sharing(folder, False, lambda: waits.append(1))
        )
    assert waits == [1]
