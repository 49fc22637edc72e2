"""Fixtures of small data and runs made once per session (helpers in synthetic.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.trainer.synthetic import pair_cil, tiny_config, write_downsampled_dataset


@pytest.fixture(scope="session", autouse=True)
def one_thread() -> Iterator[None]:
    """Torch on one thread, as in the commands that the tests start (commands.py): a narrow
    model's operations are too small to share, and on two cores that other work also uses, a
    second thread mostly waits. (A two-epoch run of `tiny_config` on the synthetic data, timed in
    one process on this project's 2-core machine under load: 1.2 s on one thread, 9 s on two.)"""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


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
    """A multi-head run: class outputs and the CIL's labels on one backbone, trained until both
    heads tell the synthetic classes apart."""
    from trainer.run import run

    out = tmp_path_factory.mktemp("multi_head_run") / "run"
    config = tiny_config(
        downsampled_dir,
        out,
        labels=cil_file,
        multi_head=True,
        cil_loss_weight=0.5,
        # At the tiny runs' lr of 0.02 the two heads' losses make validation swing between
        # epochs (50 % one epoch, 100 % the next); half of it learns both heads steadily.
        lr=0.01,
        epochs=4,
    )
    run(config)
    return out
