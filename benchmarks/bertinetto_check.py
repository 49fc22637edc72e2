"""Check the shipped tree's distances against Bertinetto et al.'s own file, for all 499,500 pairs
of ImageNet-1k classes.

Their file is `data/imagenet_ilsvrc_distances.txt.xz` in fiveai/making-better-mistakes ("WNID
WNID DISTANCE" lines, xz-compressed, 941,878 pairs of the tree's 1,372 nodes); it is not shipped
here, hence a script and not a test:

    git --git-dir=PATH/TO/making-better-mistakes/.git show \
        HEAD:data/imagenet_ilsvrc_distances.txt.xz > /tmp/distances.txt.xz
    .venv/bin/python benchmarks/bertinetto_check.py /tmp/distances.txt.xz

Prints how many class pairs differ (0 expected) and exits 1 if any does.
"""

from __future__ import annotations

import argparse
import lzma
import sys
from pathlib import Path

from imagenet_files.label_order import read_label_order
from trainer.hierarchy import distance_matrix, read_tree


def read_distances(path: Path) -> dict[tuple[str, str], int]:
    opener = lzma.open if path.suffix == ".xz" else open
    with opener(path, "rt") as lines:
        return {(a, b): int(d) for a, b, d in (line.split() for line in lines)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("distances", type=Path, help="imagenet_ilsvrc_distances.txt(.xz)")
    args = parser.parse_args()
    theirs = read_distances(args.distances)
    classes = sorted(read_label_order())
    ours = distance_matrix([[wnid] for wnid in classes], read_tree())
    pairs = differ = 0
    for i, a in enumerate(classes):
        for j in range(i + 1, len(classes)):
            b = classes[j]
            expected = theirs[(a, b) if (a, b) in theirs else (b, a)]
            pairs += 1
            if ours[i, j] != expected:
                differ += 1
                if differ <= 10:
                    print(f"{a} {b}: ours {ours[i, j]:.0f}, theirs {expected}")
    print(f"{pairs:,} class pairs, {differ:,} differ")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
