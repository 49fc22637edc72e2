"""Mistakes in the labels or the model stop a run before the data is read."""

from __future__ import annotations

import pytest

from tests.trainer.synthetic import WNIDS, tiny_config, write_flat_cil
from trainer import run as run_module
from trainer.checkpoint import save_checkpoint
from trainer.errors import RunError
from trainer.labels import MissingClassesError
from trainer.run import run


@pytest.fixture
def no_data_reading(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the data was read before the error")

    monkeypatch.setattr(run_module, "load_dataset", refuse)


def test_a_cil_missing_classes_stops_before_the_data_is_read(
    downsampled_dir, tmp_path, no_data_reading
):
    cil = write_flat_cil(tmp_path / "cil.json", {WNIDS[0]: "one"})
    with pytest.raises(MissingClassesError, match="has no label for 999"):
        run(tiny_config(downsampled_dir, tmp_path / "run", labels=cil))


def test_a_finetuning_width_mismatch_stops_before_the_data_is_read(
    downsampled_dir, tmp_path, no_data_reading
):
    source = tmp_path / "wide.pt"
    save_checkpoint(source, {"arch": "resnet18", "width": 16, "labels": {"names": ["a"]}})
    with pytest.raises(RunError, match="--width 16"):
        run(tiny_config(downsampled_dir, tmp_path / "run", finetuning=source))
