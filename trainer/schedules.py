"""The optimiser, and the learning-rate schedules stepped once per optimiser step.

The step schedule is the paper's: the rate is multiplied by `gamma` every `lr_step` epochs. It
is applied per step (the factor changes at epoch boundaries) so that both schedules advance the
same way and a resumed run restores either one from its state_dict.
"""

from __future__ import annotations

import torch
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
