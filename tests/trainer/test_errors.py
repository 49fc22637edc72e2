"""One error base for the trainer: every error class of the package derives from it, and the
command lines print it as a message."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import torch

import trainer
from trainer import benchmark
from trainer.errors import USER_ERRORS, TrainerError


def test_every_error_class_of_the_trainer_derives_from_trainer_error():
    found = []
    for module in pkgutil.iter_modules(trainer.__path__):
        imported = importlib.import_module(f"trainer.{module.name}")
        for _, member in inspect.getmembers(imported, inspect.isclass):
            if issubclass(member, Exception) and member.__module__.startswith("trainer."):
                found.append(member)
    assert {error.__name__ for error in found} >= {"CheckpointError", "ExportError", "RunError"}
    assert all(issubclass(error, TrainerError) for error in found), found
    assert TrainerError in USER_ERRORS


def test_the_benchmark_command_prints_a_missing_gpu_as_a_message(monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert benchmark.main(["--device", "cuda"]) == 2
    assert capsys.readouterr().err == "error: --device cuda was asked for, but torch sees no GPU\n"
