"""How far apart two labels are in the WordNet hierarchy, for the hierarchical metrics.

The distance of two synsets is the height of their lowest common ancestor: the fewest levels
both must climb to meet, max(steps up from a, steps up from b), minimised over their common
ancestors (WordNet is a DAG: some synsets have two parents). In a tree whose leaves all sit at
one depth this is the "LCA height" of Bertinetto et al., "Making Better Mistakes" (CVPR 2020);
a synset's distance to itself is 0, to its parent 1, and tench's to goldfish 1 (both cyprinids).

The hypernyms of ImageNet-1k ship as `trainer/data/imagenet1k_hypernyms.txt` (one line per
synset: its wnid, then its parents'), so the trainer needs no WordNet. Rewrite it with

    python -m trainer.hierarchy trainer/data/imagenet1k_hypernyms.txt
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch

SHIPPED_HYPERNYMS = Path(__file__).resolve().parent / "data" / "imagenet1k_hypernyms.txt"
UNREACHABLE = 255  # steps stored as uint8; no ImageNet synset is that deep


def read_hypernyms(path: Path = SHIPPED_HYPERNYMS) -> dict[str, tuple[str, ...]]:
    """synset wnid -> its parents' wnids (the root has none)."""
    parents = {}
    for line in path.read_text().splitlines():
        if line.strip():
            wnid, *above = line.split()
            parents[wnid] = tuple(above)
    return parents


def steps_up(wnid: str, parents: Mapping[str, tuple[str, ...]]) -> dict[str, int]:
    """Each ancestor of `wnid` (and itself, at 0) with the fewest steps up to it."""
    steps, frontier, level = {wnid: 0}, [wnid], 0
    while frontier:
        level += 1
        frontier = [p for w in frontier for p in parents.get(w, ()) if p not in steps]
        for parent in frontier:
            steps.setdefault(parent, level)
    return steps


def distance_matrix(
    wnids: Sequence[str | None], parents: Mapping[str, tuple[str, ...]]
) -> torch.Tensor | None:
    """labels x labels float tensor of LCA heights, or None when a label has no synset in
    `parents` (a flat CIL's label, a class outside the table): no distance can be trusted then.
    """
    if any(wnid is None or wnid not in parents for wnid in wnids):
        return None
    ups = [steps_up(wnid, parents) for wnid in wnids]
    synsets = sorted({s for up in ups for s in up})
    column = {s: i for i, s in enumerate(synsets)}
    steps = torch.full((len(wnids), len(synsets)), UNREACHABLE, dtype=torch.uint8)
    for row, up in enumerate(ups):
        for synset, n in up.items():
            steps[row, column[synset]] = n
    # One common ancestor at a time over the labels below it: labels x labels x synsets at
    # once would be 1.9 GB for ImageNet-1k.
    distances = torch.full((len(wnids), len(wnids)), UNREACHABLE, dtype=torch.uint8)
    for c in range(len(synsets)):
        below = (steps[:, c] < UNREACHABLE).nonzero().flatten()
        if len(below) == 0:
            continue
        height = steps[below, c]
        meet = torch.maximum(height[:, None], height[None, :])
        block = distances[below[:, None], below[None, :]]
        distances[below[:, None], below[None, :]] = torch.minimum(block, meet)
    return distances.float()


def write_hypernyms(path: Path) -> int:
    """Write the table for ImageNet-1k from WordNet (through clustering); returns its lines."""
    from clustering.hierarchy import Hierarchy, imagenet1k_wnids

    hierarchy = Hierarchy.from_wordnet(imagenet1k_wnids())
    lines = [
        " ".join([wnid, *sorted(hierarchy.parents.get(wnid, ()))])
        for wnid in sorted(hierarchy.synsets)
    ]
    path.write_text("\n".join(lines) + "\n")
    return len(lines)


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else SHIPPED_HYPERNYMS
    print(f"{out}: {write_hypernyms(out)} synsets")
