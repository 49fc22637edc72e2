"""The step and one-cycle schedules, and the LR range test's suggestion."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from torch import nn

from trainer.schedules import lr_range_test, make_scheduler, plot_range_test, suggest_lr


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


def synthetic_curve(center: float = 1e-2) -> tuple[list[float], list[float]]:
    """A range-test curve: flat, then a drop steepest at `center`, a minimum, then divergence."""
    lrs = np.logspace(-6, 1, 120)
    x = np.log10(lrs)
    falling = 2.3 - 1.5 / (1 + np.exp(-3 * (x - np.log10(center))))
    rising = np.where(x > 0, 4 * x**2, 0)
    return lrs.tolist(), (falling + rising).tolist()


@pytest.mark.parametrize("center", [1e-3, 1e-2, 3e-2])
def test_suggestion_is_the_steepest_descent_before_the_minimum(center):
    lrs, losses = synthetic_curve(center)
    suggestion = suggest_lr(lrs, losses)
    assert center / 1.2 < suggestion < center * 1.2


def test_suggestion_ignores_the_steep_fall_after_divergence():
    lrs, losses = synthetic_curve()
    losses[-5:] = [50, 40, 30, 20, 10]  # a noisy tail that drops steeply
    assert suggest_lr(lrs, losses) == pytest.approx(suggest_lr(*synthetic_curve()), rel=0.2)


def test_range_test_on_a_small_problem_stops_at_divergence(tmp_path):
    torch.manual_seed(0)
    model = nn.Linear(8, 3)
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    weights = torch.randn(8, 3)

    def batches():
        while True:
            inputs = torch.randn(32, 8)
            yield inputs, (inputs @ weights).argmax(dim=1)

    def loss_of(inputs, targets):
        return nn.functional.cross_entropy(model(inputs), targets)

    result = lr_range_test(model, batches(), optimizer, loss_of, steps=200, end_lr=1e4)
    assert len(result.lrs) < 200  # stopped when the loss blew up
    assert result.lrs[0] == pytest.approx(1e-7)
    assert 1e-3 < result.suggestion < 1e2
    plot_range_test(result, tmp_path / "lr_find.png")
    assert (tmp_path / "lr_find.png").read_bytes()[:4] == b"\x89PNG"
