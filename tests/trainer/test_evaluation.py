"""`--evaluate`: checkpoints scored afterwards, ensembles, and the original trainer's .pth files."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import pytest
import torch

from tests.trainer.synthetic import ORDER, tiny_config
from trainer.checkpoint import load_checkpoint, save_checkpoint
from trainer.labels import original_labels
from trainer.main import main
from trainer.models import build_model, make_model

pytestmark = pytest.mark.slow
CLASSES = tuple(sorted(ORDER))
CPU = ["--device", "cpu", "-j", "0", "-b", "16"]


def rows_of(folder):
    return [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]


def test_a_class_model_is_scored_on_a_cil_afterwards(
    downsampled_dir, cil_file, class_runs, tmp_path
):
    out = tmp_path / "scored"
    argv = [str(downsampled_dir), "--evaluate", "--resume", str(class_runs[0] / "epoch_001.pt")]
    assert main([*argv, "--labels", str(cil_file), "--out", str(out), *CPU]) == 0
    (row,) = rows_of(out)
    assert row["model"].endswith("epoch_001.pt") and row["val_images"] == 32
    for key in ("val_top1", "val_merged_top1", "val_mapped_top1", "val_severity", "val_hdist5"):
        assert key in row, key
    # the pair CIL's labels are no synsets, yet sit at their classes' common ancestor in the tree
    assert "val_merged_severity" in row and "val_merged_hdist5" in row
    assert {"args.json", "metrics.jsonl", "metrics.csv", "per_label.csv", "per_label_cil.csv"} <= {
        p.name for p in out.iterdir()
    }


def test_several_checkpoints_are_scored_with_their_ensemble(downsampled_dir, class_runs, tmp_path):
    out = tmp_path / "ensemble"
    argv = [str(downsampled_dir), "-e", "--resume", *map(str, class_runs), "--out", str(out)]
    assert main([*argv, *CPU]) == 0
    rows = rows_of(out)
    assert [r["model"] for r in rows][2] == "ensemble" and len(rows) == 3
    assert all(r["model"].endswith("best.pt") for r in rows[:2])  # run folders: their best.pt
    # the default CIL scores the class models; its labels are synsets, so distances too
    assert rows[2]["val_merged_severity"] is None or rows[2]["val_merged_severity"] >= 0
    # -log of the mean probability is at most the mean of the -logs (Jensen), image by image
    assert rows[2]["val_loss"] <= (rows[0]["val_loss"] + rows[1]["val_loss"]) / 2 + 1e-9


def test_an_ensemble_is_scored_on_another_cil_than_the_one_naming_its_classes(
    downsampled_dir, cil_file, class_runs, tmp_path
):
    # the runs' class outputs were named by the default CIL; the pair CIL names them by wnid
    out = tmp_path / "ensemble"
    argv = [str(downsampled_dir), "-e", "--resume", *map(str, class_runs), "--out", str(out)]
    assert main([*argv, "--labels", str(cil_file), *CPU]) == 0
    rows = rows_of(out)
    assert [r["model"] for r in rows][2] == "ensemble" and len(rows) == 3
    assert all("val_merged_top1" in r for r in rows)


def original_names(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """This trainer's resnet18 keys as the original trainer named them (kuangliu's ResNet)."""
    parts = {"body.0": "conv1", "body.1": "bn1", "body.3": "conv2", "body.4": "bn2"}
    renamed = {}
    for key, value in state.items():
        if key.startswith("stem."):
            _, index, rest = key.split(".", 2)
            key = f"{'conv1' if index == '0' else 'bn1'}.{rest}"
        elif key.startswith("fc."):
            key = "linear." + key.removeprefix("fc.")
        else:
            index, part, rest = re.match(
                r"stages\.(\d)\.(body\.\d|shortcut\.\d)\.(.+)", key
            ).groups()
            stage, block = divmod(int(index), 2)
            key = f"layer{stage + 1}.{block}.{parts.get(part, part)}.{rest}"
        renamed[key] = value
    return renamed


def test_an_original_checkpoint_is_converted_evaluated_and_fine_tuned(
    downsampled_dir, cil_file, tmp_path
):
    torch.manual_seed(0)
    model = build_model("resnet18", 1000, 64)
    labels = original_labels(CLASSES)
    ours = tmp_path / "ours.pt"
    save_checkpoint(
        ours,
        {"arch": "resnet18", "width": 64, "labels": labels.describe(), "model": model.state_dict()},
    )
    theirs = tmp_path / "40.pth"
    torch.save(original_names(model.state_dict()), theirs)

    for name, path in (("ours", ours), ("theirs", theirs)):
        argv = [str(downsampled_dir), "-e", "--resume", str(path), "--out", str(tmp_path / name)]
        assert main([*argv, *CPU]) == 0
    (mine,), (original,) = rows_of(tmp_path / "ours"), rows_of(tmp_path / "theirs")
    assert original["val_loss"] == pytest.approx(mine["val_loss"])
    assert original["val_merged_top1"] == mine["val_merged_top1"]

    config = replace(
        tiny_config(downsampled_dir, None), labels=cil_file, finetuning=theirs, width=64
    )
    tuned = make_model(config, original_labels(CLASSES), torch.device("cpu"), CLASSES)
    assert torch.equal(tuned.stem[0].weight, model.stem[0].weight)


def test_a_multi_head_checkpoint_is_scored_on_both_heads(
    downsampled_dir, cil_file, multi_head_run, tmp_path
):
    argv = [str(downsampled_dir), "-e", "--resume", str(multi_head_run)]
    assert main([*argv, "--labels", str(cil_file), "--out", str(tmp_path / "scored"), *CPU]) == 0
    (row,) = rows_of(tmp_path / "scored")
    assert {"val_top1", "val_merged_top1", "val_mapped_top1", "val_cil_head_top1"} <= set(row)


@pytest.mark.parametrize("multi_head_first", [True, False])
def test_an_ensemble_of_a_multi_head_and_a_one_head_model_is_refused(
    downsampled_dir, cil_file, multi_head_run, tmp_path, capsys, multi_head_first
):
    # the multi-head run's class head alone: the same labels, but no CIL head after them
    state = load_checkpoint(multi_head_run / "best.pt")
    del state["cil_head"]
    classes = len(state["labels"]["names"])
    for key in ("fc.weight", "fc.bias"):
        state["model"][key] = state["model"][key][:classes]
    one_head = tmp_path / "one_head.pt"
    save_checkpoint(
        one_head, {key: state[key] for key in state if key not in ("format", "version")}
    )
    members = [str(multi_head_run), str(one_head)][:: 1 if multi_head_first else -1]
    argv = [str(downsampled_dir), "-e", "--resume", *members, "--labels", str(cil_file)]
    assert main([*argv, "--out", str(tmp_path / "out"), *CPU]) == 2
    assert "an ensemble's members must be trained on the same labels, with the same heads" in (
        capsys.readouterr().err
    )
