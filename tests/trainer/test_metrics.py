"""The hierarchical metrics on a five-class toy tree, against answers worked by hand.

        root
       /    \\
      A      B
     / \\   / | \\
    a1 a2 b1 b2 X
                |
                b3

Distances (LCA height as in Bertinetto et al.: the deepest leaf's depth, 3, less the depth of
the lowest common ancestor; see trainer/hierarchy.py), classes in the order a1 a2 b1 b2 b3:

    a1  0 2 3 3 3
    a2  2 0 3 3 3
    b1  3 3 0 2 2
    b2  3 3 2 0 2
    b3  3 3 2 2 0

The tree is unbalanced (b3 one level deeper), so the LCA height is not the climb count: a1 and a2
each climb 1 to meet, yet are 2 apart, as every pair meeting one level below the root is.
"""

from __future__ import annotations

import pytest
import torch

from trainer.engine import Merge, evaluate
from trainer.hierarchy import distance_matrix, read_tree
from trainer.metrics import argmax_then_map, crm_scores, hierarchical_sums

CPU = torch.device("cpu")
PARENT = {"A": "root", "B": "root", "X": "B", "a1": "A", "a2": "A", "b1": "B", "b2": "B", "b3": "X"}
CLASSES = (("a1",), ("a2",), ("b1",), ("b2",), ("b3",))
BY_HAND = [
    [0, 2, 3, 3, 3],
    [2, 0, 3, 3, 3],
    [3, 3, 0, 2, 2],
    [3, 3, 2, 0, 2],
    [3, 3, 2, 2, 0],
]
# One image of b2 (index 3). The flat model's top-1 is a1 (0.4), a mistake across the root.
# Expected costs sum_i p(i) d(i, j): a1 0.35*3+0.25*3 = 1.8, a2 0.8+1.05+0.75 = 2.6,
# b1 1.2+0.5 = 1.7, b2 1.2+0.7 = 1.9, b3 1.2+0.7+0.5 = 2.4: CRM ranks b1 a1 b2 b3 a2.
PROBABILITIES = torch.tensor([[0.4, 0.0, 0.35, 0.25, 0.0]])
TRUTH = torch.tensor([3])


def test_distances_are_the_lca_heights_worked_by_hand():
    assert distance_matrix(CLASSES, PARENT).tolist() == BY_HAND


def test_a_label_sits_at_the_lowest_common_ancestor_of_its_classes():
    # {a1, a2} sits at A, {b3} at b3, {b1, b3} at B: A-b3 meet at root, B-{a1,a2} too
    labels = (("a1", "a2"), ("b3",), ("b1", "b3"))
    assert distance_matrix(labels, PARENT).tolist() == [[0, 3, 3], [3, 0, 2], [3, 2, 0]]


def test_a_class_off_the_tree_gives_no_distances():
    assert distance_matrix((("a1",), ("zz",)), PARENT) is None
    assert distance_matrix((("a1",), ("A",)), PARENT) is None  # an inner node is no class
    assert distance_matrix((("a1",), ()), PARENT) is None


def test_the_shipped_tree_gives_bertinetto_et_al_s_distances():
    """Pairs as their imagenet_ilsvrc_distances file has them (all 499,500 pairs are compared
    by benchmarks/bertinetto_check.py, which needs their file)."""
    tench, goldfish, cucumber, artichoke = "n01440764", "n01443537", "n07718472", "n07718747"
    distances = distance_matrix(
        ((tench,), (goldfish,), (cucumber,), (artichoke,)), read_tree()
    ).tolist()
    assert distances[0][1] == distances[1][0] == 6
    assert distances[2][3] == 13
    assert [distances[i][i] for i in range(4)] == [0, 0, 0, 0]


def test_severity_and_hierarchical_distance_by_hand():
    distances = torch.tensor(BY_HAND, dtype=torch.float32)
    severity, mistakes, at_k = hierarchical_sums(PROBABILITIES, TRUTH, distances)
    assert (severity.item(), mistakes.item()) == (3, 1)  # a1 for b2
    # top 5: a1 (3), b1 (2), b2 (0), then the ties a2 and b3 at 0 probability (3 and 2)
    assert at_k.item() == pytest.approx((3 + 2 + 0 + 3 + 2) / 5)
    right = torch.tensor([[0.0, 0.0, 0.1, 0.9, 0.0]])
    severity, mistakes, _ = hierarchical_sums(right, TRUTH, distances)
    assert (severity.item(), mistakes.item()) == (0, 0)


def test_crm_reranks_by_expected_cost():
    distances = torch.tensor(BY_HAND, dtype=torch.float32)
    scores = crm_scores(PROBABILITIES, distances)
    assert (-scores[0]).tolist() == pytest.approx([1.8, 2.6, 1.7, 1.9, 2.4])
    assert scores[0].argsort(descending=True).tolist() == [2, 0, 3, 4, 1]
    severity, mistakes, at_k = hierarchical_sums(scores, TRUTH, distances)
    assert (severity.item(), mistakes.item()) == (2, 1)  # b1 for b2: a milder mistake
    assert at_k.item() == pytest.approx((2 + 3 + 0 + 2 + 3) / 5)


def test_argmax_then_map_scores_each_label_by_its_best_class():
    # labels: A = {a1, a2}, B = {b1, b2, b3}
    lookup = torch.tensor([0, 0, 1, 1, 1])
    scores = argmax_then_map(PROBABILITIES, lookup, 2)
    assert scores.tolist() == [pytest.approx([0.4, 0.35])]  # A first: a1 is the argmax


class FixedProbabilities(torch.nn.Module):
    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return PROBABILITIES.log()


def test_evaluate_reports_every_reading_on_the_toy_hierarchy():
    # CIL: A = {a1, a2}, B = {b1, b2, b3}; the labels' distance A-B is 3 (they meet at root)
    lookup = torch.tensor([0, 0, 1, 1, 1])
    merge = Merge(
        torch.nn.functional.one_hot(lookup, 2).float(),
        lookup,
        distance_matrix((("a1", "a2"), ("b1", "b2", "b3")), PARENT),
    )
    result = evaluate(
        FixedProbabilities(),
        [(torch.zeros(1, 1), TRUTH)],
        lookup=torch.arange(5),
        num_labels=5,
        merge=merge,
        distances=torch.tensor(BY_HAND, dtype=torch.float32),
        device=CPU,
        show_progress=False,
    )
    assert (result["top1"], result["severity"]) == (0, 3)
    assert (result["crm_top1"], result["crm_severity"], result["crm_top5"]) == (0, 2, 100)
    # summed softmax: B holds 0.6 against A's 0.4, right; argmax-then-map: A (a1), wrong
    assert (result["merged_top1"], result["merged_severity"]) == (100, None)
    assert (result["mapped_top1"], result["mapped_severity"]) == (0, 3)
    assert result["merged_hdist5"] == pytest.approx((0 + 3) / 2)  # top 2 of 2 labels: B, A
