"""Each of growth.py's pages on a kept database: the CPU time of a request (median and
slowest of `--repeat` after a first), its SQL statements and Python calls, and the
cycle collector's full passes meanwhile, which other jobs on the machine move far
less than the wall clock. `--html DIR` writes each page's first answer, so that two
versions of the code can be compared on the same database (their HTML differs only
in CSRF tokens and the annotate form's submission id).

    PYTHONPATH=$PWD .venv/bin/python benchmarks/page_cpu.py /tmp/growth/size-21843 \\
        [--repeat 30] [--only home 'labels at a glance'] [--html DIR]

The folder is one of `growth.py --keep`'s (or page_growth's); a request changes
nothing in it. With PYTHONPATH naming another checkout, that version is measured on
the same database.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import pstats
import statistics
import time
from pathlib import Path

from benchmarks.growth import QUEUE, logged_in, make_app, pages

PROFILED = 5  # requests whose Python calls are counted (the profiler slows them)


class FullPasses:
    """The cycle collector's full (generation 2) passes and their seconds."""

    def __init__(self) -> None:
        self.count, self.seconds, self._started = 0, 0.0, 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.count += 1
            self.seconds += time.perf_counter() - self._started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="a size's folder of growth.py --keep")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--only", nargs="+", help="these pages (growth.py's names)")
    parser.add_argument("--html", type=Path, help="write each page's HTML here")
    args = parser.parse_args()

    from sqlalchemy import event

    from survey_app.aggregation import current_aggregation
    from survey_app.database import hierarchy_from_db
    from survey_app.extensions import db

    app = make_app(args.folder, **QUEUE)
    statements = 0

    def count_statement(*_args) -> None:
        nonlocal statements
        statements += 1

    with app.app_context():
        current_aggregation()
        hierarchy = hierarchy_from_db()
        event.listen(db.engine, "before_cursor_execute", count_statement)
    clients = {name: logged_in(app, name) for name in ("ann1", "boss")}
    passes = FullPasses()
    for name, who, path in pages(hierarchy):
        if args.only and name not in args.only:
            continue
        first = clients[who].get(path)
        if first.status_code != 200:
            raise SystemExit(f"{path} answered {first.status_code}")
        if args.html:
            args.html.mkdir(parents=True, exist_ok=True)
            file_name = name.replace(" ", "_").replace("'", "") + ".html"
            (args.html / file_name).write_bytes(first.data)
        statements, passes.count, passes.seconds = 0, 0, 0.0
        cpu = []
        for _ in range(args.repeat):
            started = time.process_time()
            clients[who].get(path)
            cpu.append(1000 * (time.process_time() - started))
        per_request = statements / args.repeat
        profile = cProfile.Profile()
        profile.runcall(lambda: [clients[who].get(path) for _ in range(PROFILED)])  # noqa: B023
        calls = pstats.Stats(profile).total_calls / PROFILED
        print(
            f"{name:20s} CPU ms median {statistics.median(cpu):6.2f} max {max(cpu):7.2f}"
            f" | {per_request:.0f} statements, {calls:,.0f} calls a request"
            f" | full collections {passes.count}, {1000 * passes.seconds:.0f} ms",
            flush=True,
        )


if __name__ == "__main__":
    main()
