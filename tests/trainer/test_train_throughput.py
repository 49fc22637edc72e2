"""benchmarks/train_throughput.py, run as a GPU session would run it, in its tiniest CPU form."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
NUMBER = r"([\d,]+\.\d)"
# A table row: name, median images/s, (min to max), ImageNet32 epoch, peak GPU memory ("-": CPU)
ROW = re.compile(rf"^(baseline|ours|bound) +{NUMBER} +\({NUMBER} to {NUMBER}\) +{NUMBER} s +-$")
RATIO = re.compile(r"^ours/(baseline|bound): ([\d.]+)x? \(target", re.MULTILINE)


def number(text: str) -> float:
    return float(text.replace(",", ""))


@pytest.mark.slow
def test_reports_the_three_figures_and_the_ratios(tmp_path):
    out = tmp_path / "results" / "cpu.txt"
    tiny = "--images 64 -b 16 --steps 2 --repeats 2 --warmup 1 --width 8 -j 1"
    result = subprocess.run(
        [sys.executable, "benchmarks/train_throughput.py", "--device", "cpu", *tiny.split()]
        + ["--out", str(out)],
        check=False,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "OMP_NUM_THREADS": "1"},  # the tests share two cores
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = {
        match[1]: [number(value) for value in match.groups()[1:]]
        for line in result.stdout.splitlines()
        if (match := ROW.match(line))
    }
    assert list(rows) == ["baseline", "ours", "bound"], result.stdout
    for name, (median, low, high, epoch) in rows.items():
        assert 0 < low <= median <= high, name
        assert epoch == pytest.approx(1_281_167 / median, rel=0.01), name
    ratios = dict(RATIO.findall(result.stdout))
    for name in ("baseline", "bound"):  # printed to 2 and 3 decimals
        assert number(ratios[name]) == pytest.approx(rows["ours"][0] / rows[name][0], abs=0.01)
    assert "ImageNet32 epoch with ours: " in result.stdout
    assert out.read_text() == result.stdout
