"""Two CPU processes under torchrun (gloo): each rank augments with its own draws, and together
they hold the dataset in host memory about once."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.trainer.commands import torchrun
from tests.trainer.synthetic import FILE_LABELS, write_downsampled


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    """The two ranks' reports on a 57 MB dataset: big enough to stand out of each process's
    own memory, small enough to write in a second; in nine files, as the release comes in
    several, so that what reading one file leaves in the allocator stays small beside it."""
    data = tmp_path_factory.mktemp("ddp_data")
    rng = np.random.default_rng(0)
    names = [f"train_data_batch_{n}" for n in range(1, 9)] + ["val_data"]
    for name, count in ((name, 2048) for name in names):
        images = rng.integers(0, 256, (count, 3, 32, 32), dtype=np.uint8)
        write_downsampled(data / name, images, [FILE_LABELS[i % 4] for i in range(count)])
    out = tmp_path_factory.mktemp("ddp_out")
    result = torchrun("tests/trainer/ddp_worker.py", str(data), str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    return [json.loads((out / f"rank{rank}.json").read_text()) for rank in range(2)]


@pytest.mark.slow
def test_ranks_augment_with_their_own_draws(two_ranks):
    first, second = (report["draws"] for report in two_ranks)
    assert first != second


@pytest.mark.slow
def test_the_ranks_hold_the_dataset_about_once(two_ranks):
    data_bytes = two_ranks[0]["data_bytes"]
    assert data_bytes == 9 * 2048 * 3 * 32 * 32
    assert two_ranks[0]["checksum"] == two_ranks[1]["checksum"]
    grown = sum(report["during"] - report["before"] for report in two_ranks)
    print(f"\nsummed PSS growth of the two ranks: {grown / data_bytes:.2f} x the dataset")
    assert grown <= 1.3 * data_bytes
