"""Checkpoints: everything a run needs to continue exactly where it stopped.

A checkpoint holds the model, optimizer and scheduler states, the completed epoch, the best
top-1 so far, the run's settings and labels, and torch's random states (CPU and CUDA), the
only generators the trainer draws from outside its seeded ones.
The data order needs no state of its own: each epoch's order and augmentation are drawn from
generators seeded by (seed, epoch) (see batches.py), and the seed is in the settings.

Files hold only tensors and plain values, so they load with `torch.load(weights_only=True)`,
which runs no code from the file.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from trainer.errors import TrainerError

FORMAT = "cil-trainer-checkpoint"
FORMAT_VERSION = 1


class CheckpointError(TrainerError):
    """A file that is not a trainer checkpoint, or one that does not fit the run."""


def unwrap(model: nn.Module) -> nn.Module:
    """The plain model inside a DDP wrapper and/or torch.compile, whose state_dict keys are
    the same however the run was launched."""
    model = getattr(model, "module", model)
    return getattr(model, "_orig_mod", model)


def rng_state() -> dict[str, object]:
    """torch's global generators: batches and augmentation draw from their own, seeded by
    (seed, epoch), and nothing in the trainer draws from Python's or numpy's."""
    state: dict[str, object] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, object]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: Path, state: dict[str, object]) -> None:
    """Write atomically: a run killed while saving leaves the previous checkpoint intact."""
    partial = path.with_name(path.name + ".partial")
    torch.save({"format": FORMAT, "version": FORMAT_VERSION, **state}, partial)
    os.replace(partial, path)


def load_checkpoint(path: Path) -> dict[str, object]:
    """Read onto the CPU: RNG states must be CPU tensors, and load_state_dict moves the rest."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch.load fails in many ways on a file that is not its own
        raise CheckpointError(f"cannot read checkpoint {path}: {error}") from error
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a checkpoint written by this trainer")
    if state.get("version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{path} is checkpoint format version {state.get('version')}; "
            f"this trainer reads version {FORMAT_VERSION}"
        )
    return state


def epoch_path(run_dir: Path, epoch: int) -> Path:
    return run_dir / f"epoch_{epoch:03d}.pt"


def best_checkpoint(source: Path) -> Path:
    """A run folder stands for its best.pt; a file for itself (what every command that reads a
    trained model takes)."""
    if source.is_dir():
        if not (source / "best.pt").is_file():
            raise CheckpointError(
                f"{source} holds no best.pt: not a run folder, or a run that has not finished "
                "an epoch (pass one of its epoch_NNN.pt files to use another checkpoint)"
            )
        return source / "best.pt"
    if not source.is_file():
        raise CheckpointError(f"{source}: no such run folder or checkpoint")
    return source


def latest_checkpoint(run_dir: Path) -> Path:
    """The checkpoint of the last completed epoch in a run folder."""
    found = [p for p in run_dir.glob("epoch_*.pt") if p.stem.removeprefix("epoch_").isdigit()]
    if not found:
        raise CheckpointError(f"{run_dir} holds no epoch_NNN.pt checkpoint to resume from")
    return max(found, key=lambda p: int(p.stem.removeprefix("epoch_")))
