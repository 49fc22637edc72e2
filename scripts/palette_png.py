"""Rewrite screenshots as 256-colour palette PNGs: a page's few flat colours survive, and the
file is a third to a fifth of Chromium's RGB one, which the repository keeps in every version.

    python scripts/palette_png.py docs/screenshots/*.png     (`make screenshots` runs it)
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image


def to_palette(path: Path) -> None:
    with Image.open(path) as image:
        if image.mode == "P":
            return  # already done
        palette = image.convert("RGB").quantize(colors=256, method=Image.Quantize.FASTOCTREE)
    palette.save(path, optimize=True)


if __name__ == "__main__":
    for name in sys.argv[1:]:
        to_palette(Path(name))
