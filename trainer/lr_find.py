"""`--lr-find`: the LR range test (Smith 2017) instead of a training run.

The rate grows exponentially from 1e-7 to 10 over `--lr-find-steps` steps while the smoothed
training loss is recorded; the run folder gets the curve (lr_find.csv, lr_find.png), the console
a table of it and the suggested `--lr`: the steepest descent of the loss.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn

from trainer.batches import LoaderBatches, ResidentBatches
from trainer.engine import Objective, autocast


@dataclass(frozen=True)
class RangeTest:
    lrs: list[float]
    losses: list[float]  # smoothed
    suggestion: float


def suggest_lr(lrs: list[float], losses: list[float]) -> float:
    """The rate where the (smoothed) loss falls fastest against log(lr), before its minimum.

    That point is well below the rate at which training diverges yet still makes fast progress,
    which is the usual reading of a range test (Smith 2017; fastai's "steepest" suggestion). The
    first tenth of the points is skipped: the smoothed loss there averages too few batches, and
    its noise would look like a steep fall.
    """
    if len(lrs) < 3:
        raise ValueError("a range test needs at least 3 points to suggest a rate")
    loss = np.asarray(losses, dtype=float)
    slope = np.gradient(loss, np.log10(np.asarray(lrs, dtype=float)))
    start = len(loss) // 10
    end = max(int(np.argmin(loss)), start + 1)
    return float(lrs[start + int(np.argmin(slope[start : end + 1]))])


def lr_range_test(
    model: nn.Module,
    batches: Iterator[tuple[torch.Tensor, torch.Tensor]],
    optimizer: torch.optim.Optimizer,
    loss_of: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    *,
    steps: int = 100,
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    smoothing: float = 0.98,
    diverge: float = 4.0,
) -> RangeTest:
    """Train for `steps` steps with the rate growing exponentially from start_lr to end_lr,
    recording the smoothed loss; stop early once it exceeds `diverge` times its minimum.

    `batches` yields at least `steps` (inputs, targets); `loss_of(inputs, targets)` runs the
    model (under autocast where the run uses it) and returns the loss. The model and optimizer
    are left trained at the last rate: the caller starts its real run afresh.
    """
    factor = (end_lr / start_lr) ** (1 / max(steps - 1, 1))
    lrs, losses, average, best = [], [], 0.0, math.inf
    model.train()
    for step, (inputs, targets) in zip(range(steps), batches, strict=False):
        lr = start_lr * factor**step
        for group in optimizer.param_groups:
            group["lr"] = lr
        loss = loss_of(inputs, targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        average = smoothing * average + (1 - smoothing) * loss.item()
        smoothed = average / (1 - smoothing ** (step + 1))
        if not math.isfinite(smoothed) or smoothed > diverge * best:
            break
        best = min(best, smoothed)
        lrs.append(lr)
        losses.append(smoothed)
    return RangeTest(lrs, losses, suggest_lr(lrs, losses))


def plot_range_test(result: RangeTest, path: Path) -> None:
    figure = Figure(figsize=(6, 4), layout="constrained")
    axes = figure.add_subplot()
    axes.plot(result.lrs, result.losses)
    axes.axvline(result.suggestion, color="tab:red", linestyle="--")
    axes.set_xscale("log")
    axes.set_xlabel("learning rate")
    axes.set_ylabel("training loss (smoothed)")
    axes.set_title(f"LR range test: suggested lr {result.suggestion:.3g}")
    figure.savefig(path, dpi=120)


def find_lr(
    model: nn.Module,
    train_batches: ResidentBatches | LoaderBatches,
    optimizer: torch.optim.Optimizer,
    *,
    steps: int,
    device: torch.device,
    amp: bool,
    run_dir: Path,
    objective: Objective,
) -> dict[str, object]:
    """The `--lr-find` mode: a range test of `steps` steps over the training batches (epoch
    after epoch) on the loss that training minimises, written to `run_dir` and printed; returns
    the run folder, the suggested rate and the range test."""

    def endless() -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for epoch in itertools.count(1):
            train_batches.set_epoch(epoch)
            yield from train_batches

    def loss_of(inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        with autocast(device, amp):
            return objective.loss(model(inputs), targets)

    result = lr_range_test(model, endless(), optimizer, loss_of, steps=steps)
    run_dir.mkdir(parents=True, exist_ok=True)
    plot_range_test(result, run_dir / "lr_find.png")
    lines = ["lr,loss"] + [
        f"{lr:.6g},{loss:.6f}" for lr, loss in zip(result.lrs, result.losses, strict=True)
    ]
    (run_dir / "lr_find.csv").write_text("\n".join(lines) + "\n")
    every = max(len(result.lrs) // 10, 1)
    print("LR range test (smoothed training loss):")
    for lr, loss in list(zip(result.lrs, result.losses, strict=True))[::every]:
        print(f"  lr {lr:10.3g}   loss {loss:.4f}")
    print(f"suggested --lr {result.suggestion:.3g} (steepest descent of the loss)")
    print(f"plot: {run_dir / 'lr_find.png'}")
    return {"run_dir": run_dir, "suggestion": result.suggestion, "range_test": result}
