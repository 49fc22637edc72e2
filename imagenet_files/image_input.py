"""An image file as a classifier's input: decoded with a pixel limit, then squashed whole to
the run's size with a box filter, as uint8 RGB 3 x S x S.

Torch-free, so that the survey app's demo page, `trainer.predict` and the trainer's ImageFolder
loader prepare a picture the same way. Downsampled ImageNet was made by box-filtering the whole
image to S x S (Chrabaszcz et al.'s resizer), whatever its shape: a network trained on it has
seen squashed pictures, so a photo squashed alike is closest to them. `crop="center"` takes the
centre square first instead, for those who prefer undistorted proportions. A JPEG is decoded
no larger than the result needs (`decode`), so a large photo costs little memory.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, UnidentifiedImageError

FORMATS = ("JPEG", "PNG", "WEBP")
# 40 megapixels: above any camera photo a person uploads, and half of Pillow's own warning
# threshold, so a decompression bomb is refused before its pixels are decoded.
MAX_PIXELS = 40_000_000
# A picture is decoded at no less than this many times the model's side before the box filter
# takes it down: what Pillow's `reducing_gap` recommends for a result close to a full decode.
REDUCING_GAP = 2
CROPS = ("squash", "center")  # the first is the default: how the training data was made


class ImageInputError(ValueError):
    """An image that cannot be used: unreadable, of another format, or too large."""


def read_image(
    source: Path | bytes | BinaryIO,
    size: int,
    *,
    max_pixels: int = MAX_PIXELS,
    crop: str = CROPS[0],
) -> np.ndarray:
    """uint8 3 x size x size, RGB, from a file path, its bytes or an open binary file; `crop`
    is one of CROPS (see `to_input`)."""
    if crop not in CROPS:
        raise ValueError(f"crop {crop!r} is not one of {', '.join(CROPS)}")
    return to_input(decode(source, REDUCING_GAP * size, max_pixels=max_pixels), size, crop)


def decode(
    source: Path | bytes | BinaryIO, side: int, *, max_pixels: int = MAX_PIXELS, name: str = ""
) -> Image.Image:
    """The picture as RGB, a JPEG decoded no larger than needed for `side` pixels on each
    side (at 1/2, 1/4 or 1/8 of its size: Pillow's `draft`, which decodes no more and is the
    8 x 8 block's mean at 1/8), a PNG or WebP whole. `max_pixels` bounds the pixels decoded,
    checked before decoding, so a JPEG photo larger than the limit still passes when its
    reduced decode is within it. `name` names the picture in errors."""
    name = name or (str(source) if isinstance(source, Path) else "the image")
    opened = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        with warnings.catch_warnings():
            # Our own limit below decides; Pillow's warning would only repeat it.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(opened) as image:
                if image.format not in FORMATS:
                    raise ImageInputError(
                        f"{name} is {image.format or 'of an unknown format'}; "
                        f"accepted: {', '.join(FORMATS)}"
                    )
                width, height = image.size
                if image.format == "JPEG":
                    image.draft("RGB", (side, side))
                decoded = image.size[0] * image.size[1]
                if decoded > max_pixels:
                    smaller = f" ({image.size[0]} x {image.size[1]} decoded smaller)"
                    raise ImageInputError(
                        f"{name} has {width} x {height} pixels"
                        f"{smaller if decoded < width * height else ''}, more than the limit of "
                        f"{max_pixels:,}"
                    )
                return image.convert("RGB")
    except FileNotFoundError:
        raise ImageInputError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise ImageInputError(f"{name} is a folder, not an image") from None
    except Image.DecompressionBombError:
        raise ImageInputError(
            f"{name} has more pixels than the limit of {max_pixels:,}, by far"
        ) from None
    except UnidentifiedImageError:
        raise ImageInputError(
            f"{name} cannot be read as an image: it is not a JPEG, PNG or WebP picture"
        ) from None
    except (OSError, SyntaxError, ValueError) as error:
        if isinstance(error, ImageInputError):
            raise
        # Pillow's own words for a damaged file name its internals ("<_io.BytesIO object
        # at 0x...>", "broken data stream"); they tell an uploader nothing.
        raise ImageInputError(
            f"{name} cannot be read as an image: its data is damaged or cut short"
        ) from None


def to_input(image: Image.Image, size: int, crop: str = CROPS[0]) -> np.ndarray:
    """An RGB image box-filtered to size x size, as uint8 3 x S x S: the whole image squashed
    ("squash"), or its centre square ("center")."""
    if crop == "center":
        width, height = image.size
        side = min(width, height)
        left, top = (width - side) // 2, (height - side) // 2
        image = image.crop((left, top, left + side, top + side))
    if image.size != (size, size):
        image = image.resize((size, size), Image.Resampling.BOX)
    return np.asarray(image, dtype=np.uint8).transpose(2, 0, 1).copy()
