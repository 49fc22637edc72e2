"""The pages' server times as the class list grows, set up in minutes rather than
`growth.py`'s hour: the same pages, clients and votes (three annotators on every
class, growth.py's picks), but the votes inserted with one SQL statement (the
tallies follow by the database's triggers, the classes' states by
`class_states.refresh_all`, as after a change of the queue's settings) instead of
one `record_vote` each.

Per size, in a folder of its own (kept with `--keep`, then measured again as it
is): `flask setup` with the class list, the bulk votes, then a fresh process per
run of `--code` (a checkout's root; default this one) that requests each page once
and `--repeat` times more and prints the median and p99 of those: run it with
another checkout's root to compare two versions on the same databases, in the
same sitting.

    .venv/bin/python benchmarks/page_growth.py --sizes 1000 21843 --keep /tmp/pages \\
        [--code /path/to/other/checkout] [--repeat 30]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.append(str(ROOT))  # after PYTHONPATH: the measured checkout's code comes first

# What a `--code` checkout's measuring process imports; older checkouts have these too.
from benchmarks.growth import LISTS, class_list, logged_in, make_app, page_times


def set_up(folder: Path, wnids: list[str]) -> None:
    """growth's `seed` (`flask setup`, the accounts), then three votes per class in one
    insert."""
    from benchmarks.growth import annotators, seed, votes_for
    from survey_app.class_states import refresh_all
    from survey_app.database import hierarchy_from_db
    from survey_app.extensions import db
    from survey_app.models import Vote

    app, _setup_s = seed(folder, wnids)
    with app.app_context():
        users = annotators()
        hierarchy = hierarchy_from_db()
        start = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=3)
        rows = []
        for i, image_class in enumerate(hierarchy.classes):
            picks = votes_for(hierarchy.chain_wnids(image_class.wnid), i)
            rows += [
                {
                    "annotator_id": user.id,
                    "class_wnid": image_class.wnid,
                    "synset_wnid": pick,
                    "created_at": start + timedelta(seconds=5 * i),
                }
                for user, pick in zip(users, picks, strict=True)
            ]
        db.session.execute(Vote.__table__.insert(), rows)
        refresh_all()
        db.session.commit()


def measure(folder: Path, repeat: int) -> dict[str, dict[str, float]]:
    """Each page's first, median and p99 server time, in this process."""
    from survey_app.database import hierarchy_from_db

    app = make_app(folder)
    with app.app_context():
        hierarchy = hierarchy_from_db()
    clients = {name: logged_in(app, name) for name in ("ann1", "boss")}
    return page_times(clients, hierarchy, repeat)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 21843], choices=list(LISTS))
    parser.add_argument(
        "--repeat", type=int, default=30, help="requests per page after the first (30)"
    )
    parser.add_argument("--keep", type=Path, help="keep each size's database under this folder")
    parser.add_argument("--code", type=Path, default=ROOT, help="the checkout to measure")
    parser.add_argument("--wheel-dir", type=Path, help="where the timm wheel is or goes")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.repeat)))
        return
    with tempfile.TemporaryDirectory() as scratch:
        results = {}
        for size in args.sizes:
            folder = (args.keep or Path(scratch)) / f"pages-{size}"
            folder.mkdir(parents=True, exist_ok=True)
            done = folder / "set-up"
            if not done.exists():
                started = time.perf_counter()
                set_up(folder, class_list(size, args.wheel_dir or Path(scratch)))
                done.write_text(f"{time.perf_counter() - started:.0f} s\n")
            code = args.code.resolve()
            run = subprocess.run(
                [sys.executable, __file__, "--measure", str(folder), "--repeat", str(args.repeat)],
                check=True,
                capture_output=True,
                text=True,
                cwd=code,
                env=os.environ | {"PYTHONPATH": str(code)},
            )
            results[size] = json.loads(run.stdout.splitlines()[-1])
        sizes = sorted(results)
        print(f"code: {args.code}")
        print("| page | " + " | ".join(f"{s:,} classes: median / p99 ms" for s in sizes) + " |")
        print("|---|" + "---|" * len(sizes))
        for name in results[sizes[0]]:
            cells = ["{median ms:.1f} / {p99 ms:.1f}".format(**results[s][name]) for s in sizes]
            print(f"| {name} | " + " | ".join(cells) + " |")
        if len(sizes) > 1:
            first, last = results[sizes[0]], results[sizes[-1]]
            print(
                f"\np99 at {sizes[-1]:,} / at {sizes[0]:,}: "
                + ", ".join(f"{n} {last[n]['p99 ms'] / first[n]['p99 ms']:.2f}" for n in first)
            )


if __name__ == "__main__":
    main()
