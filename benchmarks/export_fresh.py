"""`flask export-cil` in fresh processes on a kept survey database, as an admin runs it.

Runs the command `--runs` times one after another, each in a new process of the
checkout `--code` (default this one), with an empty `--store` folder for the kept
aggregations at the start, and prints each run's wall and CPU seconds (the child's
user + system time: steadier than the wall clock on a shared machine). The first run
computes the aggregation; later ones find the one it kept (survey_app.aggregation_store),
where the code keeps one. benchmarks/page_growth.py's `--keep` folders hold databases.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/export_fresh.py \\
        --db sqlite:////tmp/agg21k/pages-21843/growth.sqlite3 [--runs 3] [--code CHECKOUT]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def export_once(code: Path, env: dict[str, str], out: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one `flask export-cil` in a new process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "flask", "--app", "survey_app", "export-cil", str(out)],
        check=True,
        cwd=code,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True, help="the survey database's URL")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--code", type=Path, default=ROOT, help="the checkout to run")
    parser.add_argument("--store", type=Path, help="the kept aggregations' folder (emptied)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        store = args.store or Path(scratch) / "aggregations"
        shutil.rmtree(store, ignore_errors=True)
        code = args.code.resolve()
        env = os.environ | {
            "PYTHONPATH": str(code),
            "CIL_SQLALCHEMY_DATABASE_URI": args.db,
            "CIL_AGGREGATION_STORE": str(store),
        }
        print(f"code: {code}")
        for run in range(1, args.runs + 1):
            wall, cpu = export_once(code, env, Path(scratch) / f"cil-{run}.json")
            print(f"run {run}: {wall:6.2f} s wall, {cpu:6.2f} s CPU", flush=True)


if __name__ == "__main__":
    main()
