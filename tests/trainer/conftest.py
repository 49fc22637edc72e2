"""Fixtures of small data written once per session (helpers in synthetic.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.trainer.synthetic import pair_cil, tiny_config, write_downsampled_dataset


@pytest.fixture(scope="session")
def downsampled_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_downsampled_dataset(tmp_path_factory.mktemp("imagenet32"))


@pytest.fixture(scope="session")
def cil_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return pair_cil(tmp_path_factory.mktemp("cil") / "pairs.json")


@pytest.fixture(scope="session")
def class_runs(downsampled_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two one-epoch runs on the 1,000 classes with different seeds (an ensemble's members)."""
    from trainer.run import run  # torch and the trainer only for the tests that train

    root = tmp_path_factory.mktemp("class_runs")
    for seed in (1, 2):
        run(
            tiny_config(
                downsampled_dir, root / f"seed{seed}", epochs=1, seed=seed, original_labels=True
            )
        )
    return [root / "seed1", root / "seed2"]


@pytest.fixture(scope="session")
def cil_run_64(cil_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CIL run on 64 px Downsampled files, trained until it tells the colour casts apart."""
    from trainer.run import run

    data = write_downsampled_dataset(tmp_path_factory.mktemp("imagenet64"), size=64)
    out = tmp_path_factory.mktemp("cil_run_64") / "run"
    run(tiny_config(data, out, epochs=2, labels=cil_file))
    return out


@pytest.fixture(scope="session")
def multi_head_run(
    downsampled_dir: Path, cil_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A one-epoch multi-head run: class outputs and the CIL's labels on one backbone."""
    from trainer.run import run

    out = tmp_path_factory.mktemp("multi_head_run") / "run"
    run(tiny_config(downsampled_dir, out, epochs=1, labels=cil_file, multi_head=True))
    return out
