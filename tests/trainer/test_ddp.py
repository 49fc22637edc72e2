"""Two CPU processes under torchrun (gloo): each rank augments with its own draws, together they
hold the dataset in host memory about once, and what they record is what the checkpoint scores."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from tests.trainer.commands import python, torchrun
from tests.trainer.synthetic import FILE_LABELS, write_downsampled, write_downsampled_dataset
from trainer import distributed
from trainer.main import parse_config
from trainer.models import build_model


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


@pytest.fixture(scope="module")
def torchrun_run(tmp_path_factory):
    """One epoch of a tiny run on two CPU processes, on noise: each rank's last batch leaves
    other BatchNorm statistics than rank 0's."""
    data = write_downsampled_dataset(tmp_path_factory.mktemp("ddp_eval_data"))
    out = tmp_path_factory.mktemp("ddp_eval") / "run"
    result = torchrun(
        "trainer/main.py", str(data), "--original-labels", "--width", "8", "--epochs", "1",
        "-b", "24", "--lr", "0.05", "--device", "cpu", "-j", "0", "--out", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return data, out


@pytest.mark.slow
def test_the_recorded_row_is_the_saved_checkpoints_score(torchrun_run, tmp_path):
    """Every rank evaluates with rank 0's buffers, those saved in the checkpoint: the row that
    torchrun records equals `-e` on epoch_001.pt in one process."""
    data, out = torchrun_run
    recorded = json.loads((out / "metrics.jsonl").read_text().splitlines()[0])
    result = python(
        "trainer/main.py", str(data), "-e", "--resume", str(out / "epoch_001.pt"),
        "--original-labels", "--device", "cpu", "-j", "0", "-b", "24", "--out", str(tmp_path / "e"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    evaluated = json.loads((tmp_path / "e" / "metrics.jsonl").read_text())
    columns = [key for key in evaluated if key.startswith("val_") and key != "val_images"]
    assert "val_loss" in columns and "val_merged_top1" in columns
    for key in columns:
        assert recorded[key] == pytest.approx(evaluated[key], abs=1e-6), key


def test_sync_bn_is_off_by_default_and_converts_batchnorm_across_gpu_processes():
    assert parse_config(["data"]).sync_bn is False
    assert parse_config(["data", "--sync-bn"]).sync_bn is True
    model = build_model("resnet18", 4, 8)
    gpus = distributed.Placement(torch.device("cuda", 0), rank=0, world_size=2)
    converted = distributed.sync_batchnorm(model, gpus)
    kinds = {type(m) for m in converted.modules()}
    assert torch.nn.SyncBatchNorm in kinds and torch.nn.BatchNorm2d not in kinds
    one_process = distributed.Placement(torch.device("cpu"))
    assert distributed.sync_batchnorm(model, one_process) is model


def test_sync_bn_on_cpu_processes_is_refused_with_the_reason():
    cpus = distributed.Placement(torch.device("cpu"), rank=0, world_size=2)
    with pytest.raises(distributed.DeviceError, match="--sync-bn needs GPUs"):
        distributed.sync_batchnorm(build_model("resnet18", 4, 8), cpus)
