"""An image file as a classifier's input: decoded with a pixel limit, then squashed whole to
the run's size with a box filter, as uint8 RGB 3 x S x S.

Torch-free, so that the survey app's demo page, `trainer.predict` and the trainer's ImageFolder
loader prepare a picture the same way. Downsampled ImageNet was made by box-filtering the whole
image to S x S (Chrabaszcz et al.'s resizer), whatever its shape: a network trained on it has
seen squashed pictures, so a photo squashed alike is closest to them. `crop="center"` takes the
centre square first instead, for those who prefer undistorted proportions.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image

FORMATS = ("JPEG", "PNG", "WEBP")
# 40 megapixels: above any camera photo a person uploads, and half of Pillow's own warning
# threshold, so a decompression bomb is refused before its pixels are decoded.
MAX_PIXELS = 40_000_000
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
    name = str(source) if isinstance(source, Path) else "the image"
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
                if width * height > max_pixels:
                    raise ImageInputError(
                        f"{name} has {width} x {height} pixels, more than the limit of "
                        f"{max_pixels:,}"
                    )
                image = image.convert("RGB")
    except FileNotFoundError:
        raise ImageInputError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise ImageInputError(f"{name} is a folder, not an image") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        if isinstance(error, ImageInputError):
            raise
        # Pillow reports a file it cannot identify or decode as OSError (or SyntaxError).
        raise ImageInputError(f"{name} cannot be read as an image: {error}") from None
    return to_input(image, size, crop)


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
