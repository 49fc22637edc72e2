"""Scores of one batch of predictions, as sums that `engine.evaluate` adds up on the device.

Each way of reading a model's output yields label scores (higher is better); every score set is
then judged the same way: top-1/top-5 and, given the labels' distances (LCA heights on
Bertinetto et al.'s ImageNet-1k tree, `hierarchy.distance_matrix`), two measures of how bad the
mistakes are (Bertinetto et al., "Making Better Mistakes", CVPR 2020):

- mistake severity: the mean distance from the top-1 prediction to the truth, over mistakes only;
- hierarchical distance@k: the mean distance of the top k predictions to the truth, over all
  images (a perfect model still scores above 0 for k > 1).

The ways of reading a 1,000-way model on a CIL's coarser labels:

- summed softmax: a label's probability is the sum over its member classes, the fair reading,
  though it favours big labels ("dog" holds 118 classes) when the model knows little;
- argmax-then-map: the label of the most probable class (in ranking: each label scored by its
  best member), what a product that maps predictions does;
- conditional risk minimisation (Karthik et al., "No Cost Likelihood Manipulation at Test Time
  for Making Better Mistakes", ICLR 2021): rank the labels by their expected distance to the
  truth under the model's softmax, lowest first, at test time and with no training.
"""

from __future__ import annotations

import torch

TOPK = (1, 5)
HIERARCHICAL_K = 5


def topk_correct(scores: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """How many rows have their target among the top-1 and top-5 scores (k capped at the width)."""
    top = scores.topk(min(max(TOPK), scores.shape[1]), dim=1).indices
    hits = top == targets[:, None]
    return torch.stack([hits[:, :k].any(dim=1).sum() for k in TOPK])


def summed_softmax(probabilities: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    """Label probabilities: class probabilities summed over each label's members (`matrix`:
    classes x labels, one-hot rows)."""
    return probabilities @ matrix


def argmax_then_map(
    probabilities: torch.Tensor, lookup: torch.Tensor, num_labels: int
) -> torch.Tensor:
    """Each label scored by its most probable member class (`lookup`: class -> label): the top
    label is the argmax class's, the next ones those of the next classes of other labels."""
    rows = len(probabilities)
    scores = probabilities.new_zeros(rows, num_labels)
    return scores.scatter_reduce(1, lookup.expand(rows, -1), probabilities, "amax")


def crm_scores(probabilities: torch.Tensor, distances: torch.Tensor) -> torch.Tensor:
    """Minus each label's expected distance to the truth, sum_i p(i) d(i, label): the highest
    score is the conditional risk minimiser's choice."""
    return -(probabilities @ distances)


def hierarchical_sums(
    scores: torch.Tensor, targets: torch.Tensor, distances: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(summed distance of the wrong top-1 predictions, how many are wrong, summed mean distance
    of each row's top-k): divide the first by the second for the mistake severity and the third
    by the rows for the hierarchical distance@k."""
    ranked = scores.topk(min(HIERARCHICAL_K, scores.shape[1]), dim=1).indices
    top1 = ranked[:, 0]
    wrong = (top1 != targets).to(distances.dtype)
    severity = (distances[top1, targets] * wrong).sum()
    at_k = distances[ranked, targets[:, None]].mean(dim=1).sum()
    return severity, wrong.sum(), at_k
