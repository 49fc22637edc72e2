"""A user's picture is prepared as the training data was: squashed whole to the model's size, as
Downsampled ImageNet and the trainer's ImageFolder loader do; a centre crop only on request."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from imagenet_files.image_input import read_image
from trainer.data import load_dataset
from trainer.predict import parse_args

RED, GREY = (220, 20, 20), (128, 128, 128)


@pytest.fixture
def red_quarters(tmp_path: Path) -> Path:
    """64 x 32: the outer quarters (16 px each side) red, the middle half grey."""
    pixels = np.full((32, 64, 3), GREY, dtype=np.uint8)
    pixels[:, :16] = pixels[:, 48:] = RED
    path = tmp_path / "quarters.png"
    Image.fromarray(pixels).save(path)
    return path


def test_a_picture_is_squashed_as_the_image_folder_loader_squashes_it(red_quarters, tmp_path):
    """A crop would drop the red quarters; the loader keeps them, so must read_image."""
    for split in ("train", "val"):
        folder = tmp_path / "data" / split / "n01440764"
        folder.mkdir(parents=True)
        (folder / "q.png").write_bytes(red_quarters.read_bytes())
    loaded = load_dataset(tmp_path / "data", image_size=16, progress=False).val.images[0]

    got = read_image(red_quarters, 16)
    np.testing.assert_array_equal(got, loaded.numpy())
    assert tuple(got[:, 8, 0]) == RED and tuple(got[:, 8, 15]) == RED  # the red is still there


def test_a_centre_crop_is_there_when_asked_for(red_quarters):
    cropped = read_image(red_quarters, 16, crop="center")
    assert (cropped == np.array(GREY, dtype=np.uint8)[:, None, None]).all()


def test_an_unknown_crop_is_refused_by_name(red_quarters):
    with pytest.raises(ValueError, match="crop 'left'.*squash, center"):
        read_image(red_quarters, 16, crop="left")


def test_predict_squashes_by_default_and_crops_on_request():
    assert parse_args(["run", "a.png"]).crop == "squash"
    assert parse_args(["run", "a.png", "--crop", "center"]).crop == "center"
    with pytest.raises(SystemExit):
        parse_args(["run", "a.png", "--crop", "left"])
