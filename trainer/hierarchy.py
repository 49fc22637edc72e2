"""How far apart two labels are, for the hierarchical metrics: the LCA height on the ImageNet-1k
tree of Bertinetto et al., "Making Better Mistakes" (CVPR 2020), as Karthik et al. (ICLR 2021)
use it for CRM.

Their distance of two classes is the height of their lowest common ancestor as if every leaf sat
at the tree's deepest level: the leaves' greatest depth (15) less the ancestor's depth, 0 for a
class with itself. So tench and goldfish, cyprinids 2 levels below their meeting point, are 6
apart, as in their distance file, not 2: the measure counts how general the shared ancestor is,
not how many steps each class climbs.

A label of a CIL stands for its member classes, so it sits at their lowest common ancestor in the
tree (the label's own synset may be pruned from it); two labels are then as far apart as those
nodes' lowest common ancestor says, on the same scale as two classes.

The tree ships as `trainer/data/imagenet1k_tree.txt`, built from WordNet by
`trainer.bertinetto_tree`; the trainer needs no WordNet.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import torch

from trainer.bertinetto_tree import SHIPPED_TREE


def read_tree(path: Path = SHIPPED_TREE) -> dict[str, str]:
    """child wnid -> parent wnid, from "PARENT CHILD" lines."""
    parent = {}
    for line in path.read_text().splitlines():
        if line.strip():
            above, child = line.split()
            parent[child] = above
    return parent


def _chain(node: str, parent: Mapping[str, str]) -> list[str]:
    """`node` and its ancestors, root last."""
    chain = [node]
    while chain[-1] in parent:
        chain.append(parent[chain[-1]])
    return chain


def _lowest_common_ancestor(nodes: Sequence[str], parent: Mapping[str, str]) -> str:
    common = _chain(nodes[0], parent)
    for node in nodes[1:]:
        above = set(_chain(node, parent))
        common = [n for n in common if n in above]
    return common[0]


def distance_matrix(
    members: Sequence[Sequence[str]], parent: Mapping[str, str]
) -> torch.Tensor | None:
    """labels x labels float tensor of LCA heights, `members` giving each label's class wnids;
    None when a class is no leaf of the tree (data outside ImageNet-1k): no distance can be
    trusted then."""
    inner = set(parent.values())
    if any(not classes for classes in members) or any(
        wnid not in parent or wnid in inner for classes in members for wnid in classes
    ):
        return None
    leaves = set(parent) - inner
    deepest = max(len(_chain(leaf, parent)) - 1 for leaf in leaves)
    chains = [_chain(_lowest_common_ancestor(list(c), parent), parent) for c in members]
    # Each label's ancestors (itself included) by depth: two labels' common ancestor of depth d
    # shows as a shared column of level d. One small matrix product per level instead of
    # labels x labels chain walks.
    nodes = sorted({node for chain in chains for node in chain})
    column = {node: i for i, node in enumerate(nodes)}
    depth = torch.zeros(len(nodes), dtype=torch.int64)
    above = torch.zeros(len(members), len(nodes))
    for row, chain in enumerate(chains):
        for level, node in enumerate(reversed(chain)):
            above[row, column[node]] = 1
            depth[column[node]] = level
    lca_depth = torch.zeros(len(members), len(members))
    for level in range(int(depth.max()) + 1):
        at_level = above[:, depth == level]
        shared = (at_level @ at_level.T) > 0
        lca_depth[shared] = level
    distances = deepest - lca_depth
    distances.fill_diagonal_(0)
    return distances
