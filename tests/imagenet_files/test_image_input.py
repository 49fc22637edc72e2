"""Decoding a picture no larger than needed: a JPEG at the scale its size allows, the pixel
limit on what is decoded, and plain words for what is not a picture."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from imagenet_files.image_input import ImageInputError, decode, read_image, to_input


def encoded(size, fmt: str, colour=(200, 40, 40)) -> bytes:
    stream = io.BytesIO()
    Image.new("RGB", size, colour).save(stream, fmt)
    return stream.getvalue()


@pytest.mark.parametrize(
    ("side", "decoded"), [(64, (500, 375)), (400, (1000, 750)), (2000, (4000, 3000))]
)
def test_a_jpeg_is_decoded_at_the_smallest_scale_that_keeps_the_side(side, decoded):
    assert decode(encoded((4000, 3000), "JPEG"), side).size == decoded


def test_a_png_is_decoded_whole():
    assert decode(encoded((4000, 3000), "PNG"), 64).size == (4000, 3000)


def test_the_pixel_limit_counts_the_pixels_decoded():
    photo = encoded((4000, 3000), "JPEG")
    assert decode(photo, 64, max_pixels=200_000).size == (500, 375)
    with pytest.raises(ImageInputError, match=r"4000 x 3000 pixels \(1000 x 750 decoded"):
        decode(photo, 400, max_pixels=200_000, name="photo.jpg")
    with pytest.raises(ImageInputError, match="^bomb.png has 4000 x 3000 pixels, more than"):
        decode(encoded((4000, 3000), "PNG"), 64, max_pixels=200_000, name="bomb.png")


def test_a_reduced_decode_gives_the_model_the_same_picture():
    """On a square photo, where the centre crop is the whole: within a grey level."""
    rng = np.random.default_rng(0)
    noise = Image.fromarray(rng.integers(0, 256, (96, 96, 3), dtype=np.uint8))
    stream = io.BytesIO()
    noise.resize((3072, 3072), Image.Resampling.BICUBIC).save(stream, "JPEG", quality=92)
    whole = Image.open(io.BytesIO(stream.getvalue())).convert("RGB")
    reduced = read_image(stream.getvalue(), 32).astype(int)
    assert np.abs(reduced - to_input(whole, 32).astype(int)).mean() < 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not a picture", "up.png cannot be read as an image: it is not a JPEG, PNG or WebP"),
        (encoded((300, 200), "PNG")[:200], "up.png cannot be read as an image: its data is"),
    ],
)
def test_what_is_not_a_picture_is_said_plainly(content, message):
    with pytest.raises(ImageInputError) as refused:
        decode(content, 64, name="up.png")
    assert str(refused.value).startswith(message)
    assert "0x" not in str(refused.value)
