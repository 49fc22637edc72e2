"""The LR range test: its suggestion, the test itself, and the `--lr-find` mode of a run."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from tests.trainer.synthetic import tiny_config
from trainer.lr_find import lr_range_test, plot_range_test, suggest_lr
from trainer.run import run


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


@pytest.mark.slow
def test_lr_find_prints_plots_and_suggests(downsampled_dir, tmp_path, capsys):
    result = run(tiny_config(downsampled_dir, tmp_path / "find", lr_find=True, lr_find_steps=30))
    assert 1e-4 < result["suggestion"] < 10
    assert (tmp_path / "find" / "lr_find.png").exists()
    assert json.loads((tmp_path / "find" / "args.json").read_text())["lr_find_steps"] == 30
    assert "suggested --lr" in capsys.readouterr().out
    assert not list((tmp_path / "find").glob("*.pt"))


def test_lr_find_of_a_multi_head_run_tests_its_weighted_loss(downsampled_dir, cil_file, tmp_path):
    config = tiny_config(
        downsampled_dir,
        tmp_path / "find",
        lr_find=True,
        lr_find_steps=5,
        multi_head=True,
        labels=cil_file,
        class_loss_weight=0.0,
    )
    losses = run(config)["range_test"].losses
    # the CIL head's 3 labels alone, about ln 3; cross-entropy over all 1,003 outputs: ln 1003
    assert losses[0] < 3
