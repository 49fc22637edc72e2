"""Mistake severity, hierarchical distance@5 and CRM's top-1 of a validation confusion matrix,
with the trainer's distances (Bertinetto et al.'s tree, `trainer.hierarchy`) and its CRM.

A confusion matrix holds each image's top-1 only, so each image is given a softmax: half on its
predicted class, half spread like its true class's row of the matrix (the model's doubt has the
shape of its class's mistakes). Its top-1 is then the recorded prediction, so the top-1 and the
mistake severity are the matrix's own; the top 5 and CRM's re-ranking depend on that stand-in.
Deterministic: the same folder gives the same figures.

    .venv/bin/python benchmarks/synthetic_confusion.py --out runs/synthetic
    .venv/bin/python benchmarks/mistake_severity.py runs/synthetic

RUN_DIR holds `confusion.npy` and `classes.txt` (as written by the script above or by
`python -m trainer.features RUN_DIR`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from trainer.hierarchy import distance_matrix, read_tree
from trainer.metrics import crm_scores


def severity_figures(counts: np.ndarray, distances: torch.Tensor) -> dict[str, float]:
    """top-1 %, mistake severity and hdist@5 of the stand-in softmax, then the same after CRM."""
    rates = torch.from_numpy(counts / counts.sum(axis=1, keepdims=True)).float()
    truth, predicted = (torch.from_numpy(a) for a in np.nonzero(counts))
    weight = torch.from_numpy(counts[truth.numpy(), predicted.numpy()]).float()
    probabilities = 0.5 * rates[truth]
    probabilities[torch.arange(len(truth)), predicted] += 0.5
    images = weight.sum()
    figures = {}
    for name, scores in (("", probabilities), ("crm_", crm_scores(probabilities, distances))):
        # one row per (truth, prediction) pair, weighted by its images
        top1 = (scores.argmax(dim=1) == truth).float()
        ranked = scores.topk(5, dim=1).indices
        wrong = 1 - top1
        figures[f"{name}top1"] = 100 * float((top1 * weight).sum() / images)
        severity = distances[scores.argmax(dim=1), truth]
        figures[f"{name}severity"] = float(
            (severity * wrong * weight).sum() / (wrong * weight).sum()
        )
        at_k = distances[ranked, truth[:, None]].mean(dim=1)
        figures[f"{name}hdist5"] = float((at_k * weight).sum() / images)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path, help="a folder with confusion.npy and classes.txt")
    args = parser.parse_args()
    counts = np.load(args.run_dir / "confusion.npy")
    classes = (args.run_dir / "classes.txt").read_text().split()
    distances = distance_matrix([[wnid] for wnid in classes], read_tree())
    if distances is None:
        parser.error(f"{args.run_dir}: classes outside ImageNet-1k have no distances")
    for name, value in severity_figures(counts, distances).items():
        print(f"{name}: {value:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
