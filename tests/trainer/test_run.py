"""Whole runs on the CPU with narrow models: learning, labels, fine-tuning, resume, two heads."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import replace

import pytest
import torch

from tests.trainer.synthetic import WNIDS, pair_cil, tiny_config, write_image_folder
from trainer.checkpoint import load_checkpoint
from trainer.errors import RunError
from trainer.labels import label_spaces
from trainer.models import make_model
from trainer.records import RunRecords
from trainer.run import run

pytestmark = pytest.mark.slow
TIMING = {"images_per_s", "train_seconds", "epoch_seconds", "time"}


@pytest.fixture(scope="module")
def learned(downsampled_dir, tmp_path_factory):
    """A 3-epoch run on the 1,000 original labels, also scored on the default CIL: (its config,
    its result)."""
    config = tiny_config(
        downsampled_dir, tmp_path_factory.mktemp("learned") / "run", epochs=3, original_labels=True
    )
    return config, run(config)


def best_epoch(config) -> dict:
    """The metrics row of the epoch with the best validation top-1 (the best.pt one): a
    3-epoch run at a constant lr can dip on its last epoch, by how the CPU rounds."""
    rows = [json.loads(line) for line in (config.out / "metrics.jsonl").read_text().splitlines()]
    return max((row for row in rows if "val_top1" in row), key=lambda row: row["val_top1"])


def test_a_small_model_learns_the_synthetic_task(learned):
    config, result = learned
    last = result["last"]
    # 4 classes among 1,000 outputs: chance is 25 % at best; scrambled labels would stay there
    assert result["best_top1"] >= 90 and best_epoch(config)["val_top1"] == result["best_top1"]
    assert last["train_images"] == 128 and last["val_images"] == 32
    folder = config.out
    names = {p.name for p in folder.iterdir()}
    assert {"args.json", "metrics.jsonl", "metrics.csv", "curves.png", "per_label.csv"} <= names
    assert {"epoch_001.pt", "epoch_002.pt", "epoch_003.pt", "best.pt"} <= names
    environment = json.loads((folder / "args.json").read_text())["environment"]
    assert environment["device"] == "cpu"
    # a commit, or "unknown" for code outside a repository (test_records.py checks which one)
    assert re.fullmatch("[0-9a-f]{40}|unknown", environment["git_commit"])
    per_label = (folder / "per_label.csv").read_text().splitlines()
    assert len(per_label) == 1001 and per_label[279].startswith("278,n02119789,kit fox,8,")


def test_cil_training_on_an_image_folder(tmp_path):
    data = write_image_folder(tmp_path / "data", per_class=12)
    cil = pair_cil(tmp_path / "cil.json", classes=WNIDS)
    result = run(tiny_config(data, tmp_path / "run", labels=cil, epochs=3, batch_size=8))
    checkpoint = load_checkpoint(tmp_path / "run" / "best.pt")
    assert checkpoint["model"]["fc.weight"].shape[0] == 2
    assert checkpoint["labels"]["names"] == ["alpha", "beta"]
    assert result["last"]["val_top1"] >= 75  # chance is 50 %


def test_a_class_model_is_also_scored_on_the_cil(learned):
    config, _ = learned
    best = best_epoch(config)
    assert best["val_top1"] >= 90 and best["val_merged_top1"] >= 90
    assert (config.out / "per_label_cil.csv").read_text().startswith("label,wnid,name")


def test_resume_reproduces_the_uninterrupted_run(downsampled_dir, tmp_path):
    config = tiny_config(downsampled_dir, tmp_path / "whole", epochs=3, schedule="onecycle")
    run(config)
    # an interrupted copy: killed after epoch 1, its later files never written
    cut = tmp_path / "cut"
    cut.mkdir()
    shutil.copy(tmp_path / "whole" / "epoch_001.pt", cut)
    lines = (tmp_path / "whole" / "metrics.jsonl").read_text().splitlines()
    (cut / "metrics.jsonl").write_text(lines[0] + "\n" + '{"epoch": 2, "partial": true}\n')

    # resumed with other speed settings: the data through DataLoader workers instead
    run(replace(config, out=None, resume=cut, data_on_device=False, workers=1))

    whole = load_checkpoint(tmp_path / "whole" / "epoch_003.pt")
    resumed = load_checkpoint(cut / "epoch_003.pt")
    for key, tensor in whole["model"].items():
        assert torch.equal(tensor, resumed["model"][key]), key
    assert whole["scheduler"] == resumed["scheduler"]
    momentum = [s["momentum_buffer"] for s in whole["optimizer"]["state"].values()]
    assert all(
        torch.equal(a, s["momentum_buffer"])
        for a, s in zip(momentum, resumed["optimizer"]["state"].values(), strict=True)
    )
    rows = [
        [
            {k: v for k, v in json.loads(line).items() if k not in TIMING}
            for line in path.read_text().splitlines()
        ]
        for path in (tmp_path / "whole" / "metrics.jsonl", cut / "metrics.jsonl")
    ]
    assert rows[0] == rows[1]


def test_resume_refuses_other_training_settings(learned):
    config, _ = learned
    with pytest.raises(RunError, match=r"lr: 0\.02 in the run, 0\.1 now"):
        run(replace(config, resume=config.out, lr=0.1))
    with pytest.raises(RunError, match="already holds a run"):
        run(config)


def test_finetuning_replaces_the_head_and_keeps_the_body(learned, cil_file, tmp_path):
    source, _ = learned
    checkpoint = source.out / "epoch_003.pt"
    config = replace(
        source,
        out=tmp_path / "tuned",
        labels=cil_file,
        original_labels=False,
        finetuning=checkpoint,
        epochs=1,
    )

    classes = load_checkpoint(checkpoint)["labels"]["wnids"]
    trained, _ = label_spaces(tuple(classes), cil_file, False)
    model = make_model(config, trained, torch.device("cpu"))
    body = load_checkpoint(checkpoint)["model"]
    state = model.state_dict()
    assert state["fc.weight"].shape == (3, 64) and body["fc.weight"].shape == (1000, 64)
    assert all(torch.equal(state[k], v) for k, v in body.items() if not k.startswith("fc."))

    # the fine-tuned body already tells the classes apart: one epoch suffices for the labels
    assert run(config)["last"]["val_top1"] >= 75
    with pytest.raises(RunError, match="pass --arch resnet18 --width 8"):
        make_model(replace(config, width=16), trained, torch.device("cpu"))


def test_multi_head_trains_and_scores_both_heads(multi_head_run):
    last = RunRecords(multi_head_run).rows()[-1]
    assert last["val_top1"] >= 75 and last["val_cil_head_top1"] >= 75  # chance: 25 %, 50 %
    assert "val_merged_top1" in last and "val_mapped_top1" in last
    checkpoint = load_checkpoint(multi_head_run / "best.pt")
    assert checkpoint["model"]["fc.weight"].shape[0] == 1000 + 3
    assert checkpoint["cil_head"]["names"] == ["alpha", "beta", "rest"]
