"""The step and one-cycle schedules."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from torch import nn

from trainer.schedules import make_scheduler


def rates(schedule: str, epochs: int, steps: int, **options) -> list[float]:
    """The rate used at each step."""
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1)
    scheduler = make_scheduler(optimizer, schedule, epochs=epochs, steps_per_epoch=steps, **options)
    seen = []
    for _ in range(epochs * steps):
        seen.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return seen


def test_step_schedule_is_the_papers():
    seen = rates("step", 40, 3, lr_step=10, gamma=0.5)
    per_epoch = seen[::3]
    assert per_epoch[:10] == [0.1] * 10
    assert per_epoch[10] == pytest.approx(0.05) and per_epoch[20] == pytest.approx(0.025)
    assert per_epoch[39] == pytest.approx(0.0125)
    assert seen[29] == 0.1 and seen[30] == pytest.approx(0.05)  # the decay comes at step 30


def test_finetuning_schedule_halves_every_two_epochs():
    per_epoch = rates("step", 10, 2, lr_step=2, gamma=0.5)[::2]
    assert per_epoch == pytest.approx(
        [0.1, 0.1, 0.05, 0.05, 0.025, 0.025, 0.0125, 0.0125, 0.00625, 0.00625]
    )


def test_onecycle_warms_up_to_the_peak_and_anneals():
    seen = rates("onecycle", 10, 10)
    peak = int(np.argmax(seen))
    assert seen[0] == pytest.approx(0.1 / 25)
    assert max(seen) == pytest.approx(0.1) and 25 <= peak <= 31
    assert seen[-1] < 1e-4
    assert all(a <= b for a, b in itertools.pairwise(seen[: peak + 1]))
