"""The shipped tree is what Bertinetto et al.'s recipe builds from WordNet 3.0, and has the shape
of theirs (1,372 nodes, leaves 3 to 15 deep, no inner node with a single child)."""

from __future__ import annotations

from collections import Counter

import pytest

from imagenet_files.label_order import read_label_order
from trainer.bertinetto_tree import ROOT, TreeBuildError, build_tree
from trainer.hierarchy import read_tree

CLASSES = sorted(read_label_order())


def test_the_shipped_tree_is_what_wordnet_builds(wordnet):
    assert build_tree(CLASSES, wordnet) == read_tree()


def test_the_tree_has_the_shape_of_theirs():
    parent = read_tree()
    children = Counter(parent.values())
    leaves = set(parent) - set(children)
    assert len(parent) + 1 == 1372 and leaves == set(CLASSES)
    assert {n for n, count in children.items() if count == 1} <= {ROOT}
    depths = [len(_ancestors(leaf, parent)) for leaf in leaves]
    assert (min(depths), max(depths)) == (3, 15)
    # their rewiring: street sign and traffic light under signboard, not the abstract "sign"
    signboard = "n04217882"
    for sign in ("n06794110", "n06874185"):
        assert signboard in _ancestors(sign, parent) and "n06793231" not in _ancestors(sign, parent)


def _ancestors(node: str, parent: dict[str, str]) -> list[str]:
    found = []
    while node in parent:
        node = parent[node]
        found.append(node)
    return found


def test_a_class_with_several_longest_paths_and_no_tie_break_is_refused(wordnet, monkeypatch):
    monkeypatch.setattr("trainer.bertinetto_tree.TIE_BREAKS", {})
    with pytest.raises(TreeBuildError, match="n02504013 has 2 longest paths .* picks 0 of them"):
        build_tree(["n02504013"], wordnet)  # Indian elephant
