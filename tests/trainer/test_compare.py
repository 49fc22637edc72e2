"""The comparison command end to end, on fake data in the official file format."""

from __future__ import annotations

import csv
from dataclasses import replace

import pytest

from tests.trainer.commands import python
from tests.trainer.synthetic import tiny_config
from trainer.compare import main
from trainer.run import run


def test_the_command_runs_from_the_repository_root_without_an_installed_package():
    # -S: no site-packages; compare.py puts the repository root on sys.path itself, as main.py
    result = python("-S", "trainer/compare.py", "--help")
    assert result.returncode == 0, result.stderr
    assert "python trainer/compare.py" in result.stdout and "--labels" in result.stdout


@pytest.mark.slow
def test_one_command_prints_every_row(downsampled_dir, class_runs, tmp_path, capsys):
    cil_run = tmp_path / "cil"
    run(tiny_config(downsampled_dir, cil_run, epochs=1))  # the default CIL
    tuned = tmp_path / "tuned"
    run(
        replace(tiny_config(downsampled_dir, tuned, epochs=1), finetuning=class_runs[0] / "best.pt")
    )
    multi = tmp_path / "multi"
    run(tiny_config(downsampled_dir, multi, epochs=1, multi_head=True))
    out = tmp_path / "table"
    runs = [*map(str, class_runs), str(cil_run), str(tuned), str(multi)]
    options = ["--out", str(out), "--device", "cpu", "-j", "0", "-b", "16"]
    assert main([str(downsampled_dir), *runs, *options]) == 0
    printed = capsys.readouterr().out
    with (out / "comparison.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    kinds = [row["row"] for row in rows]
    assert kinds == [
        "1,000-way, summed softmax",
        "1,000-way, argmax-then-map",
        "1,000-way, summed softmax",
        "1,000-way, argmax-then-map",
        "1,000-way ensemble, summed softmax",
        "1,000-way ensemble, argmax-then-map",
        "multi-head, class head, summed softmax",
        "multi-head, class head, argmax-then-map",
        "multi-head, CIL head",
        "CIL-trained",
        "fine-tuned",
        "CIL ensemble",
    ]
    assert all(row["severity"] != "" and row["hdist5"] != "n/a" for row in rows)
    assert "| 1,000-way ensemble, summed softmax |" in printed and "| fine-tuned |" in printed
    assert (out / "comparison.md").read_text() in printed
