"""The optimiser, learning-rate schedules stepped once per optimiser step, and the LR range test.

The step schedule is the paper's: the rate is multiplied by `gamma` every `lr_step` epochs. It
is applied per step (the factor changes at epoch boundaries) so that both schedules advance the
same way and a resumed run restores either one from its state_dict.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn

# The one-cycle schedule starts at lr / ONECYCLE_DIV, peaks at lr after ONECYCLE_WARMUP of the
# steps, and anneals by cosine to lr / ONECYCLE_DIV / 1e4 (PyTorch's OneCycleLR defaults).
ONECYCLE_DIV = 25.0
ONECYCLE_WARMUP = 0.3


def make_optimizer(model: nn.Module, config) -> torch.optim.SGD:
    """SGD with `config`'s lr, momentum and weight decay (a `Config`, or the class for its
    defaults): the one place both the trainer and its benchmark build it."""
    return torch.optim.SGD(
        model.parameters(),
        lr=config.lr,
        momentum=config.momentum,
        weight_decay=config.weight_decay,
    )


def make_scheduler(
    optimizer: torch.optim.Optimizer,
    schedule: str,
    *,
    epochs: int,
    steps_per_epoch: int,
    lr_step: int = 10,
    gamma: float = 0.5,
) -> torch.optim.lr_scheduler.LRScheduler:
    """The schedule for `optimizer`, whose lr is the base (step) or peak (onecycle) rate."""
    if schedule == "step":
        return torch.optim.lr_scheduler.StepLR(
            optimizer, step_size=lr_step * steps_per_epoch, gamma=gamma
        )
    if schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer,
            max_lr=[group["lr"] for group in optimizer.param_groups],
            total_steps=epochs * steps_per_epoch,
            pct_start=ONECYCLE_WARMUP,
            div_factor=ONECYCLE_DIV,
            cycle_momentum=False,  # keep --momentum as given
        )
    raise ValueError(f"unknown schedule {schedule!r}")


# --- LR range test -----------------------------------------------------------------------------
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
