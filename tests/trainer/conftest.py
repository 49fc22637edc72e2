"""Fixtures of small data written once per session (helpers in synthetic.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.trainer.synthetic import pair_cil, write_downsampled_dataset


@pytest.fixture(scope="session")
def downsampled_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_downsampled_dataset(tmp_path_factory.mktemp("imagenet32"))


@pytest.fixture(scope="session")
def cil_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return pair_cil(tmp_path_factory.mktemp("cil") / "pairs.json")
