"""benchmarks/train_throughput.py, run as a GPU session would run it, in its tiniest CPU form."""

from __future__ import annotations

import re

import pytest

from tests.trainer.commands import python

NUMBER = r"([\d,]+\.\d)"
# A table row: name, median images/s, (min to max), ImageNet32 epoch, peak GPU memory ("-": CPU)
ROW = re.compile(
    rf"^(baseline|baseline\+amp|ours|bound) +{NUMBER} +\({NUMBER} to {NUMBER}\) +{NUMBER} s +-$"
)
RATIO = re.compile(r"^(\S+/\S+): ([\d.]+)x? \(", re.MULTILINE)


def number(text: str) -> float:
    return float(text.replace(",", ""))


@pytest.mark.slow
def test_reports_the_four_rows_timed_in_rounds_and_their_ratios(tmp_path):
    out = tmp_path / "results" / "cpu.txt"
    tiny = "--images 64 -b 16 --steps 2 --repeats 5 --warmup 1 --width 8 -j 1"
    result = python(
        "benchmarks/train_throughput.py",
        "--device",
        "cpu",
        *tiny.split(),
        "--out",
        str(out),
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = {
        match[1]: [number(value) for value in match.groups()[1:]]
        for line in result.stdout.splitlines()
        if (match := ROW.match(line))
    }
    assert list(rows) == ["baseline", "baseline+amp", "ours", "bound"], result.stdout
    for name, (median, low, high, epoch) in rows.items():
        assert 0 < low <= median <= high, name
        assert epoch == pytest.approx(1_281_167 / median, rel=0.01), name
    ratios = {name: number(value) for name, value in RATIO.findall(result.stdout)}
    assert list(ratios) == [
        "ours/baseline",
        "ours/baseline+amp",
        "baseline+amp/baseline",
        "ours/bound",
    ]
    for name, value in ratios.items():  # a median of per-round ratios: within the rows' spread
        top, bottom = name.split("/")
        assert (
            rows[top][1] / rows[bottom][2] - 0.01 <= value <= rows[top][2] / rows[bottom][1] + 0.01
        )
    assert result.stderr.count("round ") == 5
    assert "ImageNet32 epoch with ours: " in result.stdout
    assert out.read_text() == result.stdout
