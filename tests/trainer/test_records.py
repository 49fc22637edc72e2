"""The run folder's files."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess

import pytest

from trainer.records import RunRecords, code_commit, curves_figure


def row(epoch: int, merged: bool = False) -> dict[str, object]:
    values = {
        "epoch": epoch,
        "lr": 0.1,
        "train_loss": 2.0 / epoch,
        "train_top1": 10.0 * epoch,
        "train_top5": 20.0 * epoch,
        "val_loss": 2.5 / epoch,
        "val_top1": 9.0 * epoch,
        "val_top5": 19.0 * epoch,
    }
    if merged:
        values |= {"val_merged_top1": 12.0 * epoch, "val_merged_top5": 22.0 * epoch}
    return values


def test_rows_go_to_jsonl_csv_and_the_plot(tmp_path):
    records = RunRecords(tmp_path / "run")
    records.write_args({"lr": 0.1, "arch": "resnet18"})
    for epoch in (1, 2, 3):
        records.append(row(epoch, merged=True))
    folder = tmp_path / "run"
    assert json.loads((folder / "args.json").read_text()) == {"arch": "resnet18", "lr": 0.1}
    assert [r["epoch"] for r in records.rows()] == [1, 2, 3]
    with (folder / "metrics.csv").open() as handle:
        table = list(csv.DictReader(handle))
    assert [r["val_merged_top1"] for r in table] == ["12.0", "24.0", "36.0"]
    assert (folder / "curves.png").read_bytes()[:4] == b"\x89PNG"


def test_keep_until_drops_epochs_a_resume_will_redo(tmp_path):
    records = RunRecords(tmp_path)
    for epoch in (1, 2, 3):
        records.append(row(epoch), plot=False)  # the curves are the test above's
    records.keep_until(1)
    records.append(row(2), plot=False)
    assert [r["epoch"] for r in records.rows()] == [1, 2]
    assert len((tmp_path / "metrics.csv").read_text().splitlines()) == 3


def test_per_label_table(tmp_path):
    records = RunRecords(tmp_path)
    records.write_per_label(
        "per_label.csv",
        ("dog", "cat"),
        ("n02084071", None),
        [{"images": 4, "top1": 75.0}, {"images": 0, "top1": None}],
    )
    lines = (tmp_path / "per_label.csv").read_text().splitlines()
    assert lines == ["label,wnid,name,images,top1", "0,n02084071,dog,4,75.00", "1,,cat,0,"]


def test_a_one_epoch_run_plots_visible_points():
    # single points drawn as lines without markers leave the plot blank
    figure = curves_figure([row(1, merged=True)])
    lines = [line for axes in figure.axes for line in axes.lines]
    assert len(lines) == 8 and all(line.get_marker() not in ("None", "", None) for line in lines)


@pytest.mark.skipif(shutil.which("git") is None, reason="needs the git command")
def test_the_code_commit_is_the_head_of_the_repository_holding_the_code(tmp_path):
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
            cwd=tmp_path,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()

    git("init", "-q")
    git("commit", "-q", "--allow-empty", "--no-gpg-sign", "-m", "code")
    (tmp_path / "trainer").mkdir()
    assert code_commit(tmp_path / "trainer") == git("rev-parse", "HEAD")


def test_the_code_commit_is_unknown_without_a_repository_or_without_git(tmp_path, monkeypatch):
    plain = tmp_path / "plain"
    plain.mkdir()
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))  # no repository above it either
    assert code_commit(plain) == "unknown"
    assert code_commit(tmp_path / "missing") == "unknown"
    monkeypatch.setenv("PATH", str(plain))  # no git on the path
    assert code_commit() == "unknown"
