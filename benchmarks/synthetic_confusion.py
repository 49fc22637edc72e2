"""A synthetic validation confusion matrix for ImageNet-1k, standing in for a trained
1,000-way model's until a GPU run writes a real one (`python -m trainer.features RUN_DIR`).

Each class has 50 validation images. A share of them (`--top1`) is predicted right;
the mistakes fall on the other classes with weight exp(-`--sharpness` * d), d being
how many levels the true class climbs to meet the other in WordNet (its depth less
the depth of their deepest common ancestor), so a husky is mostly taken for other
dogs, as a real model's mistakes are. On top, `--cross` random pairs of classes
from different branches (artifact, living thing, food ...) are confused strongly one
way (a quarter of the true class's images): look-alikes that WordNet keeps apart, as
a real model has them (a mask taken for a face). Seeded, so the file is the same on
every run.

    .venv/bin/python benchmarks/synthetic_confusion.py --out runs/synthetic
    .venv/bin/python -m clustering strategy confusion --run runs/synthetic --out confusion.json

writes `confusion.npy` and `classes.txt` into the folder, as the trainer does.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from clustering.confusion import CLASSES_FILE, CONFUSION_FILE
from clustering.hierarchy import Hierarchy, imagenet1k_wnids


def lca_depths(hierarchy: Hierarchy) -> np.ndarray:
    """classes x classes: the depth of the deepest synset over both classes."""
    n = len(hierarchy.classes)
    depths = np.zeros((n, n))
    for synset, members in hierarchy.descendants.items():
        rows = np.array([hierarchy.class_index[c] for c in members])
        block = depths[np.ix_(rows, rows)]
        depths[np.ix_(rows, rows)] = np.maximum(block, hierarchy.synsets[synset].depth)
    return depths


def synthetic_confusion(
    hierarchy: Hierarchy,
    *,
    images: int = 50,
    top1: float = 0.4,
    sharpness: float = 1.5,
    cross: int = 30,
    seed: int = 0,
) -> np.ndarray:
    rng = np.random.default_rng(seed)
    depth = np.array([hierarchy.synsets[c.wnid].depth for c in hierarchy.classes], float)
    climb = depth[:, None] - lca_depths(hierarchy)
    weights = np.exp(-sharpness * climb)
    np.fill_diagonal(weights, 0.0)
    rates = (1 - top1) * weights / weights.sum(axis=1, keepdims=True)
    np.fill_diagonal(rates, top1)
    branch = [_branch(hierarchy, c.wnid) for c in hierarchy.classes]
    planted = 0
    while planted < cross:
        i, j = rng.integers(len(branch), size=2)
        if branch[i] != branch[j]:
            rates[i] *= 0.75
            rates[i, j] += 0.25
            planted += 1
    return np.stack([rng.multinomial(images, row / row.sum()) for row in rates])


def _branch(hierarchy: Hierarchy, wnid: str) -> str:
    """The fifth synset of the class's chain, root first: artifact (515 classes of
    ImageNet-1k), living thing (407), food (29) and a few smaller ones."""
    chain = hierarchy.chain_wnids(wnid)
    return chain[min(4, len(chain) - 1)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out",
        type=Path,
        required=True,
        help="the folder to write confusion.npy and classes.txt into",
    )
    parser.add_argument(
        "--hierarchy", metavar="FILE", help="a hierarchy JSON (default: ImageNet-1k from WordNet)"
    )
    parser.add_argument(
        "--top1",
        type=float,
        default=0.4,
        help="share of each class's images predicted right (default: 0.4)",
    )
    parser.add_argument(
        "--sharpness",
        type=float,
        default=1.5,
        help="how fast mistakes fade with WordNet distance (default: 1.5)",
    )
    parser.add_argument(
        "--cross",
        type=int,
        default=30,
        help="strong confusions planted across WordNet branches (default: 30)",
    )
    parser.add_argument("--seed", type=int, default=0, help="(default: 0)")
    args = parser.parse_args(argv)
    hierarchy = (
        Hierarchy.load(args.hierarchy)
        if args.hierarchy
        else Hierarchy.from_wordnet(imagenet1k_wnids())
    )
    counts = synthetic_confusion(
        hierarchy, top1=args.top1, sharpness=args.sharpness, cross=args.cross, seed=args.seed
    )
    args.out.mkdir(parents=True, exist_ok=True)
    np.save(args.out / CONFUSION_FILE, counts)
    (args.out / CLASSES_FILE).write_text("".join(f"{c.wnid}\n" for c in hierarchy.classes))
    print(
        f"wrote {args.out / CONFUSION_FILE}: {len(counts)} classes, top-1 "
        f"{100 * np.trace(counts) / counts.sum():.1f} %"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
