"""What hostile files cost `python -m clustering validate`: each is written to a
temporary folder and validated in a child process, whose exit status, wall time,
peak memory (the child's own maximum resident set, from `os.wait4`) and first line
of stderr are printed beside a small valid file's, the baseline.

The files are those of issue 27: a 150 MB flat file (one long label name), 200,000
nested `[`, a provenance nested 100,000 deep, a 5,000-digit label index, a
60,000-character name "a (a (..." (which the qualifier's pattern once split in
quadratic time), and a rich file of 30,000 made-up classes, each its own label
(which the reader once checked in time quadratic in the labels). Peak memory is a count the kernel keeps, so it varies little from
run to run; the wall time is one run's, on a shared machine.

    .venv/bin/python benchmarks/validate_hostile.py
    .venv/bin/python benchmarks/validate_hostile.py --mb 50
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from clustering.cil import build_cil, dumps_cil
from clustering.hierarchy import Hierarchy

CLASS = "n01440764"  # tench: the one class of the benchmark's hierarchy


def write_files(folder: Path, hierarchy: Hierarchy, megabytes: int) -> None:
    """The files, `0.json` (the valid baseline) on, in the order of `main`'s table. Run
    in a child of its own: a process forked from one that built them would count that
    one's memory in its peak."""
    rich = json.loads(dumps_cil(build_cil(hierarchy, {CLASS: CLASS})))
    texts = {
        "valid (baseline)": json.dumps(rich),
        f"{megabytes} MB flat file": None,
        "200,000 nested [": "[" * 200_000,
        "provenance 100,000 deep": json.dumps({**rich, "provenance": {}}).replace(
            '"provenance": {}', '"provenance": ' + '{"a": ' * 100_000 + "{}" + "}" * 100_000
        ),
        "5,000-digit label index": json.dumps(rich).replace(
            '"label_index": 0', '"label_index": ' + "9" * 5000
        ),
        '60,000-char name "a (a (..."': json.dumps({CLASS: "a (" * 20_000}),
        "30,000 one-class labels": json.dumps(own_labels(30_000)),
    }
    (folder / "names.json").write_text(json.dumps(list(texts)))
    for number, text in enumerate(texts.values()):
        with (folder / f"{number}.json").open("w", encoding="utf-8") as out:
            if text is None:  # written in pieces
                out.write(f'{{"{CLASS}": "')
                for _ in range(megabytes):
                    out.write("a" * 1024 * 1024)
                out.write('"}')
            else:
                out.write(text)


def own_labels(count: int) -> dict:
    """A rich CIL of `count` made-up classes (n00000000, ...), each its own label."""
    wnids = [f"n{i:08d}" for i in range(count)]
    return {
        "format": "cil",
        "format_version": 1,
        "classes": [
            {
                "index": i,
                "wnid": w,
                "name": w,
                "label_index": i,
                "label_wnid": None,
                "label_name": f"label {i}",
            }
            for i, w in enumerate(wnids)
        ],
        "labels": [
            {"index": i, "wnid": None, "name": f"label {i}", "members": [w]}
            for i, w in enumerate(wnids)
        ],
        "provenance": {},
    }


def run(path: Path, hierarchy_file: Path) -> tuple[int, float, float, str]:
    """(exit status, seconds, peak resident MB, first line of stderr) of validating `path`."""
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "clustering", "validate", str(path), "--hierarchy", hierarchy_file],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stderr is not None
    err = child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    lines = err.strip().splitlines()
    first = lines[-1] if lines and lines[0].startswith("Traceback") else (lines or [""])[0]
    return child.returncode, seconds, usage.ru_maxrss / 1024, first  # ru_maxrss: kB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=int, default=150, help="the large file's size in MB")
    parser.add_argument("--write-into", metavar="FOLDER", help=argparse.SUPPRESS)  # the child
    args = parser.parse_args()
    if args.write_into:
        folder = Path(args.write_into)
        write_files(folder, Hierarchy.load(folder / "hierarchy.json"), args.mb)
        return
    with tempfile.TemporaryDirectory() as folder:
        # WordNet is loaded, and the files written, by children (see `write_files`).
        classes, hierarchy_file = Path(folder) / "classes.txt", Path(folder) / "hierarchy.json"
        classes.write_text(f"{CLASS}\n")
        subprocess.run(
            [
                sys.executable,
                "-m",
                "clustering",
                "hierarchy",
                "--classes",
                classes,
                "--out",
                hierarchy_file,
            ],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [sys.executable, __file__, "--write-into", folder, "--mb", str(args.mb)], check=True
        )
        names = json.loads((Path(folder) / "names.json").read_text())
        print(
            f"{'file':<28} {'bytes':>12} {'exit':>4} {'s':>6} {'peak MB':>8}  stderr (first line)"
        )
        for number, name in enumerate(names):
            path = Path(folder) / f"{number}.json"
            status, seconds, peak, first = run(path, hierarchy_file)
            size = path.stat().st_size
            print(f"{name:<28} {size:>12,} {status:>4} {seconds:>6.1f} {peak:>8.0f}  {first[:100]}")


if __name__ == "__main__":
    main()
