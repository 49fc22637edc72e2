"""The hierarchical metrics on a five-class toy hierarchy, against answers worked by hand.

        root
       /    \\
      A      B
     / \\   / | \\
    a1 a2 b1 b2 X
                |
                b3

Distances (height of the lowest common ancestor, see trainer/hierarchy.py), classes in the order
a1 a2 b1 b2 b3:

    a1  0 1 2 2 3
    a2  1 0 2 2 3
    b1  2 2 0 1 2
    b2  2 2 1 0 2
    b3  3 3 2 2 0
"""

from __future__ import annotations

import pytest
import torch

from trainer.engine import Merge, evaluate
from trainer.hierarchy import distance_matrix, read_hypernyms, steps_up
from trainer.metrics import argmax_then_map, crm_scores, hierarchical_sums

CPU = torch.device("cpu")
PARENTS = {
    "root": (),
    "A": ("root",),
    "B": ("root",),
    "X": ("B",),
    "a1": ("A",),
    "a2": ("A",),
    "b1": ("B",),
    "b2": ("B",),
    "b3": ("X",),
}
CLASSES = ("a1", "a2", "b1", "b2", "b3")
BY_HAND = [
    [0, 1, 2, 2, 3],
    [1, 0, 2, 2, 3],
    [2, 2, 0, 1, 2],
    [2, 2, 1, 0, 2],
    [3, 3, 2, 2, 0],
]
# One image of b2 (index 3). The flat model's top-1 is a1 (0.4), a mistake two levels deep.
# Expected costs sum_i p(i) d(i, j): a1 0.35*2+0.25*2 = 1.2, a2 0.4+0.7+0.5 = 1.6,
# b1 0.8+0.25 = 1.05, b2 0.8+0.35 = 1.15, b3 1.2+0.7+0.5 = 2.4: CRM ranks b1 b2 a1 a2 b3.
PROBABILITIES = torch.tensor([[0.4, 0.0, 0.35, 0.25, 0.0]])
TRUTH = torch.tensor([3])


def test_distances_are_the_lca_heights_worked_by_hand():
    assert distance_matrix(CLASSES, PARENTS).tolist() == BY_HAND
    assert steps_up("b3", PARENTS) == {"b3": 0, "X": 1, "B": 2, "root": 3}


def test_a_label_off_the_hierarchy_gives_no_distances():
    assert distance_matrix(("a1", None), PARENTS) is None
    assert distance_matrix(("a1", "zz"), PARENTS) is None


def test_a_second_parent_takes_the_shorter_way():
    # b3 also under A directly: it meets a1 at A, one step up from a1 and one from b3
    parents = {**PARENTS, "b3": ("X", "A")}
    assert distance_matrix(("a1", "b3"), parents).tolist() == [[0, 1], [1, 0]]


def test_the_shipped_imagenet_table_puts_tench_next_to_goldfish():
    parents = read_hypernyms()
    tench, goldfish, fox = "n01440764", "n01443537", "n02119789"
    distances = distance_matrix((tench, goldfish, fox), parents)
    assert distances[0, 1] == 1 and distances[0, 2] > 5


def test_severity_and_hierarchical_distance_by_hand():
    distances = torch.tensor(BY_HAND, dtype=torch.float32)
    severity, mistakes, at_k = hierarchical_sums(PROBABILITIES, TRUTH, distances)
    assert (severity.item(), mistakes.item()) == (2, 1)  # a1 for b2
    # top 5: a1 (2), b1 (1), b2 (0), then the ties a2 and b3 at 0 probability (2 and 2)
    assert at_k.item() == pytest.approx((2 + 1 + 0 + 2 + 2) / 5)
    right = torch.tensor([[0.0, 0.0, 0.1, 0.9, 0.0]])
    severity, mistakes, _ = hierarchical_sums(right, TRUTH, distances)
    assert (severity.item(), mistakes.item()) == (0, 0)


def test_crm_reranks_by_expected_cost():
    distances = torch.tensor(BY_HAND, dtype=torch.float32)
    scores = crm_scores(PROBABILITIES, distances)
    assert (-scores[0]).tolist() == pytest.approx([1.2, 1.6, 1.05, 1.15, 2.4])
    assert scores[0].argsort(descending=True).tolist() == [2, 3, 0, 1, 4]
    severity, mistakes, at_k = hierarchical_sums(scores, TRUTH, distances)
    assert (severity.item(), mistakes.item()) == (1, 1)  # b1 for b2: a milder mistake
    assert at_k.item() == pytest.approx((1 + 0 + 2 + 2 + 2) / 5)


def test_argmax_then_map_scores_each_label_by_its_best_class():
    # labels: A = {a1, a2}, B = {b1, b2, b3}
    lookup = torch.tensor([0, 0, 1, 1, 1])
    scores = argmax_then_map(PROBABILITIES, lookup, 2)
    assert scores.tolist() == [pytest.approx([0.4, 0.35])]  # A first: a1 is the argmax


class FixedProbabilities(torch.nn.Module):
    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return PROBABILITIES.log()


def test_evaluate_reports_every_reading_on_the_toy_hierarchy():
    # CIL: A = {a1, a2}, B = {b1, b2, b3}; the labels' distance A-B is 1 (they meet at root)
    lookup = torch.tensor([0, 0, 1, 1, 1])
    merge = Merge(
        torch.nn.functional.one_hot(lookup, 2).float(),
        lookup,
        distance_matrix(("A", "B"), PARENTS),
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
    assert (result["top1"], result["severity"]) == (0, 2)
    assert (result["crm_top1"], result["crm_severity"], result["crm_top5"]) == (0, 1, 100)
    # summed softmax: B holds 0.6 against A's 0.4, right; argmax-then-map: A (a1), wrong
    assert (result["merged_top1"], result["merged_severity"]) == (100, None)
    assert (result["mapped_top1"], result["mapped_severity"]) == (0, 1)
    assert result["merged_hdist5"] == pytest.approx((0 + 1) / 2)  # top 2 of 2 labels: B, A
