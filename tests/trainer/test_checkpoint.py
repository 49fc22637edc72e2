"""Checkpoint files and random states."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from trainer.checkpoint import (
    CheckpointError,
    best_checkpoint,
    epoch_path,
    latest_checkpoint,
    load_checkpoint,
    restore_rng,
    rng_state,
    save_checkpoint,
    unwrap,
)


def test_random_state_survives_a_save_and_load(tmp_path):
    torch.manual_seed(1)
    save_checkpoint(tmp_path / "c.pt", {"rng": rng_state()})
    expected = torch.rand(3)
    torch.rand(3)
    restore_rng(load_checkpoint(tmp_path / "c.pt")["rng"])
    assert torch.equal(torch.rand(3), expected)


def test_checkpoint_round_trip_and_atomic_name(tmp_path):
    model = nn.Linear(2, 2)
    path = epoch_path(tmp_path, 3)
    save_checkpoint(path, {"epoch": 3, "model": model.state_dict()})
    assert path.name == "epoch_003.pt" and not list(tmp_path.glob("*.partial"))
    state = load_checkpoint(path)
    assert state["epoch"] == 3 and torch.equal(state["model"]["weight"], model.weight.detach())


def test_latest_checkpoint_orders_epochs_numerically(tmp_path):
    for epoch in (9, 10, 100, 1000):
        save_checkpoint(epoch_path(tmp_path, epoch), {"epoch": epoch})
    (tmp_path / "epoch_best.pt").write_bytes(b"")
    assert latest_checkpoint(tmp_path).name == "epoch_1000.pt"
    with pytest.raises(CheckpointError, match=r"no epoch_NNN\.pt"):
        latest_checkpoint(tmp_path / "..")


def test_foreign_files_are_refused(tmp_path):
    torch.save({"weight": torch.zeros(1)}, tmp_path / "plain.pt")
    with pytest.raises(CheckpointError, match="not a checkpoint written by this trainer"):
        load_checkpoint(tmp_path / "plain.pt")
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(CheckpointError, match="cannot read"):
        load_checkpoint(tmp_path / "junk.pt")


def test_unwrap_reaches_the_plain_model():
    model = nn.Linear(2, 2)
    wrapper = nn.Module()
    wrapper.module = model
    assert unwrap(wrapper) is model and unwrap(model) is model


def test_a_run_folder_stands_for_its_best_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="holds no best.pt"):
        best_checkpoint(tmp_path)
    (tmp_path / "best.pt").write_bytes(b"")
    (tmp_path / "epoch_001.pt").write_bytes(b"")
    assert best_checkpoint(tmp_path) == tmp_path / "best.pt"
    assert best_checkpoint(tmp_path / "epoch_001.pt") == tmp_path / "epoch_001.pt"
    with pytest.raises(CheckpointError, match="no such run folder or checkpoint"):
        best_checkpoint(tmp_path / "missing.pt")
