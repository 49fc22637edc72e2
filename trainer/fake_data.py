"""`python -m trainer.fake_data DIR`: a tiny ImageFolder to try the trainer, predict, export and
the demo page on without ImageNet: four ImageNet classes, each a colour cast over noise, so a
narrow network learns them in a few epochs on a CPU (see --help)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image

# Four ImageNet-1k classes under four labels of the default CIL, and their colour casts (RGB).
CLASSES = {
    "n07747607": (230, 120, 20),  # orange -> "orange"
    "n01440764": (40, 90, 200),  # tench -> "other fish"
    "n01531178": (220, 200, 40),  # goldfinch -> "finch"
    "n03792782": (60, 160, 60),  # mountain bike -> "bicycle"
}


def write_fake_data(root: Path, *, train: int = 64, val: int = 16, size: int = 32) -> Path:
    """root/train/<wnid>/*.png and root/val/<wnid>/*.png."""
    rng = np.random.default_rng(0)
    for split, count in (("train", train), ("val", val)):
        for wnid, colour in CLASSES.items():
            folder = root / split / wnid
            folder.mkdir(parents=True, exist_ok=True)
            noise = rng.integers(-60, 60, (count, size, size, 3))
            pictures = np.clip(noise + np.array(colour), 0, 255).astype(np.uint8)
            for i, picture in enumerate(pictures):
                Image.fromarray(picture).save(folder / f"{wnid}_{i}.png")
    return root


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m trainer.fake_data",
        description=__doc__.split("\n\n")[0].split(": ", 1)[1],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("out", type=Path, metavar="DIR", help="the folder to write")
    parser.add_argument("--train", type=int, default=64, help="training images per class")
    parser.add_argument("--val", type=int, default=16, help="validation images per class")
    parser.add_argument("--size", type=int, default=32, help="image side in pixels")
    args = parser.parse_args(argv)
    if min(args.train, args.val, args.size) < 1:
        parser.error("--train, --val and --size must be at least 1")
    if args.out.exists() and any(args.out.iterdir()):
        parser.error(f"{args.out} is not empty")
    write_fake_data(args.out, train=args.train, val=args.val, size=args.size)
    print(f"wrote {len(CLASSES)} classes of {args.size} px pictures to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
