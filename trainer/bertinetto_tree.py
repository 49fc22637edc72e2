"""Build the ImageNet-1k tree of Bertinetto et al., "Making Better Mistakes" (CVPR 2020), from
WordNet 3.0, and write it as `trainer/data/imagenet1k_tree.txt` ("PARENT CHILD" lines).

Their recipe (`data/scripts_asis/compute_imagenet_hierarchy.py` in fiveai/making-better-mistakes),
whose tree Karthik et al. (ICLR 2021) reuse for CRM:

1. the noun hypernym DAG above the 1,000 classes, with three edges rewired (REWIRED);
2. each class keeps only its longest hypernym path to "physical entity" (ROOT); where several
   paths are longest, the one they picked (TIE_BREAKS);
3. every inner node with a single child on the kept paths is dropped.

The result has 1,372 nodes, classes 3 to 15 levels below the root. The trainer reads the shipped
file (`trainer.hierarchy`) and needs no WordNet; rewrite the file with

    .venv/bin/python -m trainer.bertinetto_tree

and compare it with their distance file with `benchmarks/bertinetto_check.py`.
"""

from __future__ import annotations

import functools
import itertools
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from trainer.errors import TrainerError

SHIPPED_TREE = Path(__file__).resolve().parent / "data" / "imagenet1k_tree.txt"
ROOT = "n00001930"  # physical entity: their root, set by hand because of the rewiring

# (parent, child) -> new parent, from their script's EDGE_REPLACE: traffic light and street sign
# hang from the abstract "sign" and bubble from the abstract "sphere" in WordNet; they moved them
# to "signboard" and "sphere" the artifact.
REWIRED = {
    ("n06793231", "n06794110"): "n04217882",
    ("n06874019", "n06874185"): "n04217882",
    ("n13899200", "n13899404"): "n04274530",
}

# class -> a synset on the longest path they chose, for the 28 classes with several longest
# paths. Their script picks by position in networkx's path order (its `path_choices`), which
# depends on their edge file's order; these are the same choices read off their published tree
# (data/imagenet_isa.txt), named by a synset that only the chosen path passes through.
TIE_BREAKS = {
    "n02504013": "n02453108",  # Indian elephant, via pachyderm
    "n02504458": "n02453108",  # African elephant, via pachyderm
    "n02799071": "n02778669",  # baseball, via ball
    "n02802426": "n02778669",  # basketball, via ball
    "n03000684": "n03699975",  # chain saw, via machine
    "n03134739": "n02778669",  # croquet ball, via ball
    "n03445777": "n02778669",  # golf ball, via ball
    "n03452741": "n03614532",  # grand piano, via keyboard instrument
    "n03594734": "n04489008",  # jean, via trouser
    "n03773504": "n04565375",  # missile, via weapon
    "n03814639": "n04359589",  # neck brace, via support
    "n03854065": "n03614532",  # organ, via keyboard instrument
    "n03876231": "n02730265",  # paintbrush, via applicator
    "n03995372": "n03699975",  # power drill, via machine
    "n03998194": "n03405265",  # prayer rug, via furnishing
    "n04004767": "n04004475",  # printer, via printer (machine)
    "n04149813": "n04217882",  # scoreboard, via signboard
    "n04389033": "n02740533",  # tank, via armored vehicle
    "n04486054": "n02733524",  # triumphal arch, via arch
    "n04515003": "n03614532",  # upright piano, via keyboard instrument
    "n04579432": "n02676261",  # whistle, via acoustic device
    "n06596364": "n06589574",  # comic book, via publication
    "n07711569": "n07710283",  # mashed potato, via root vegetable
    "n07742313": "n07705931",  # Granny Smith, via edible fruit
    "n07892512": "n07881800",  # red wine, via beverage
    "n07930864": "n07881800",  # cup, via beverage
    "n07932039": "n07881800",  # eggnog, via beverage
    "n09835506": "n09820263",  # ballplayer, via athlete
}


class TreeBuildError(TrainerError):
    """WordNet does not give the tree the recipe expects (another WordNet version)."""


def build_tree(classes: Sequence[str], wordnet: object) -> dict[str, str]:
    """child -> parent of the pruned tree over `classes` (ImageNet-1k wnids), from an nltk
    WordNet 3.0 reader."""

    @functools.cache
    def parents(wnid: str) -> tuple[str, ...]:
        synset = wordnet.synset_from_pos_and_offset("n", int(wnid[1:]))
        found = (f"n{p.offset():08d}" for p in synset.hypernyms() + synset.instance_hypernyms())
        return tuple(sorted(REWIRED.get((parent, wnid), parent) for parent in found))

    @functools.cache
    def height(wnid: str) -> int | None:
        """Edges on the longest path up to ROOT; None when no path reaches it."""
        if wnid == ROOT:
            return 0
        above = [h for h in map(height, parents(wnid)) if h is not None]
        return 1 + max(above) if above else None

    def longest_paths(wnid: str) -> list[list[str]]:
        """Every longest path from `wnid` up to ROOT, `wnid` excluded."""
        if wnid == ROOT:
            return [[]]
        return [
            [parent, *rest]
            for parent in parents(wnid)
            if height(parent) is not None and height(parent) == height(wnid) - 1
            for rest in longest_paths(parent)
        ]

    paths = {}
    for wnid in classes:
        found = longest_paths(wnid)
        chosen = [p for p in found if TIE_BREAKS.get(wnid) in p] if len(found) > 1 else found
        if len(chosen) != 1:
            raise TreeBuildError(
                f"{wnid} has {len(found)} longest paths to {ROOT} and TIE_BREAKS picks "
                f"{len(chosen)} of them: it must name a synset on exactly one"
            )
        paths[wnid] = chosen[0]
    edges = _edges(paths)
    children = Counter(edges.values())
    pruned = {w: [n for n in path if children[n] > 1 or n == ROOT] for w, path in paths.items()}
    return _edges(pruned)


def _edges(paths: dict[str, list[str]]) -> dict[str, str]:
    """child -> parent along the paths; a second parent for a node would not be a tree."""
    edges: dict[str, str] = {}
    for wnid, path in paths.items():
        chain = [wnid, *path]
        for child, parent in itertools.pairwise(chain):
            if edges.setdefault(child, parent) != parent:
                raise TreeBuildError(f"{child} would have two parents: {edges[child]}, {parent}")
    return edges


def write_tree(path: Path, parent: dict[str, str]) -> None:
    path.write_text("".join(f"{parent[child]} {child}\n" for child in sorted(parent)))


if __name__ == "__main__":
    # WordNet set up as the clustering pipeline sets it up (nltk's data, Debian's or a download)
    from clustering.wordnet import ensure_wordnet
    from imagenet_files.label_order import read_label_order

    out = Path(sys.argv[1]) if len(sys.argv) > 1 else SHIPPED_TREE
    tree = build_tree(sorted(read_label_order()), ensure_wordnet())
    write_tree(out, tree)
    print(f"{out}: {len(tree) + 1} nodes")
