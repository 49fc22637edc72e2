"""How the survey grows with its class list: ImageNet-1k (1,000 classes), ImageNet-21k's
winter-21 release (10,450) and its full list (21,843), in about 8 minutes for the three
on a quiet 2-core machine (20-25 with other jobs running).

Per size, in a fresh SQLite database in a folder of its own:

1. `flask setup` with the class list (the hierarchy built from WordNet, the schema, the
   seeding, the offline search counts), three annotators and an admin;
2. three votes on every class, each cast through the app's `record_vote` in a
   transaction of its own, as the vote form's request casts it (mostly the parent,
   some the class itself or the grandparent);
3. gunicorn's warm-up in a fresh process (survey_app/warmup.py: the master runs it
   before it forks the workers): the hierarchy, priors and skills, and the review
   pages' aggregation, loaded from the store or computed and kept there, with what the
   pages derive from it; then the first review summary, as a worker forked after it
   answers it;
4. a fresh worker process without the warm-up (as `flask export-cil` starts one) logs
   in through the login form as an annotator and as an admin, and with one client
   requests each page once (first: the worker computes what it keeps) and `--repeat`
   times more, a page after another in rounds (median and p99 of those); it times the
   aggregation behind the review pages (cold: a fresh process's first, loaded from the
   store where step 3 kept it; after a vote: the vote log moved on; warm: kept), `flask
   export-cil` after a vote and the validator on the CIL it wrote, and reports its
   peak resident memory (VmHWM);
5. the load test (`growth_load.py`, on `load_votes.py`'s: gunicorn with 2 workers,
   32 new annotators each offering 7 votes/s) for `--load-seconds` on the same
   database (gunicorn's master warms up before it forks the workers, outside the
   clock): votes/s stored, page and vote p50/p99, the workers' CPU time per vote,
   errors, and the workers' peak resident memory; and before the annotators start,
   the seconds gunicorn took to answer and the admin's first review summary. Its
   votes stay in the database.

It prints one markdown table (and writes it to `--out`), a column per size, marking
with ✗ each figure that misses the issue's goals: a page's p99 over twice its figure at
the smallest size, an aggregation or export of 5 s or more, a worker of 500 MB or more,
any 5xx, lost or duplicated vote. Progress, and each size's figures as JSON once
measured, go to stderr.

The two ImageNet-21k lists come from the timm wheel, downloaded with pip into a
temporary folder (or `--wheel-dir`) and read from the zip; they are not kept.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/growth.py --wheel-dir /tmp/timm \\
        [--sizes 1000 10450 21843] [--repeat 200] [--load-seconds 20] [--out growth.md] \\
        [--keep /tmp/growth]

With `--keep`, a size whose folder holds a database set up earlier skips steps 1-2
and is measured again as it is (with the votes of earlier load tests).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.append(str(ROOT))  # run as a script: the benchmarks package after PYTHONPATH

TIMM = "timm==1.0.31"
LISTS = {  # size -> the class list's file in the timm wheel (None: ImageNet-1k)
    1000: None,
    10450: "timm/data/_info/imagenet21k_miil_w21_synsets.txt",
    21843: "timm/data/_info/imagenet21k_goog_synsets.txt",
}
PASSWORD = "benchmark password"
ANNOTATORS = ("ann1", "ann2", "ann3")
# A survey whose queue closes a class at 10 votes, its target confidence one that three
# votes never reach: after three on each, every class is still open, as in a survey under
# way, and the load test's annotators find work at every size (at 1,000 classes, 7,000
# votes: over 30 s at 224 votes/s). MIN_VOTES stays the default: it is also the votes the
# aggregation counts a class decided at, and with 10 every class kept its own synset.
# page_growth, which has no load test, keeps the defaults (the classes close).
QUEUE = {"MAX_VOTES": 10, "TARGET_CONFIDENCE": 1 - 1e-12}
TOKEN = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
# Requests per page after the first: a p99 needs some hundreds, and 200 rounds of the
# eleven pages take about 25 s per size at 21,843 classes (the disagreements page,
# 40 ms, the most of it).
REPEAT = 200


# --- the class lists ---------------------------------------------------------------------
def timm_wheel(folder: Path) -> Path:
    """The timm wheel in `folder`, downloaded with pip when it is not there."""
    found = sorted(folder.glob("timm-*.whl"))
    if not found:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", TIMM, "--no-deps", "-q", "-d", str(folder)],
            check=True,
        )
        found = sorted(folder.glob("timm-*.whl"))
    return found[-1]


def class_list(size: int, wheel_dir: Path) -> list[str]:
    from clustering.hierarchy import imagenet1k_wnids

    member = LISTS[size]
    if member is None:
        return imagenet1k_wnids()
    with zipfile.ZipFile(timm_wheel(wheel_dir)) as wheel:
        wnids = wheel.read(member).decode().split()
    if len(wnids) != size:
        raise SystemExit(f"{member} holds {len(wnids)} wnids, not {size}")
    return wnids


# --- setting a size up -------------------------------------------------------------------
def make_app(folder: Path, **settings):
    from survey_app import create_app

    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url(folder),
            "HIERARCHY_FILE": str(folder / "hierarchy.json"),
            "THUMBNAIL_DIR": str(folder / "thumbnails"),
            "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
            "VOTE_RATE_LIMIT": 0,  # one script casts every vote
            # The size's own kept aggregations, not the checkout's instance folder.
            "AGGREGATION_STORE": str(folder / "aggregations"),
            **settings,
        }
    )


def database_url(folder: Path) -> str:
    return f"sqlite:///{folder / 'growth.sqlite3'}"


def votes_for(chain: list[str], i: int) -> tuple[str, str, str]:
    """The three annotators' picks on the `i`th class: mostly the parent, some the
    class itself or the grandparent."""
    parent = chain[-2] if len(chain) > 1 else chain[-1]
    return (
        parent,
        parent if i % 7 else chain[-1],
        chain[-3] if i % 5 == 0 and len(chain) > 2 else parent,
    )


def seed(folder: Path, wnids: list[str], **settings) -> tuple[object, float]:
    """`flask setup` on the class list in `folder`, then the three annotators and an
    admin; the app (`make_app`'s, with `settings`) and setup's seconds."""
    from survey_app.accounts import create_user
    from survey_app.extensions import db

    listing = folder / "classes.txt"
    listing.write_text("\n".join(wnids) + "\n")
    app = make_app(folder, CLASS_LIST=str(listing), **settings)
    setup_s, result = timed(lambda: app.test_cli_runner().invoke(args=["setup"]))
    if result.exit_code != 0:
        raise SystemExit(f"flask setup failed:\n{result.output}")
    with app.app_context():
        for name in ANNOTATORS:
            create_user(name, PASSWORD, "annotator")
        create_user("boss", PASSWORD, "admin")
        db.session.commit()
    return app, setup_s


def annotators():
    """The three annotators as a request sees them (`SessionUser`, read with one query),
    in ANNOTATORS' order."""
    from sqlalchemy import select

    from survey_app.auth import SessionUser
    from survey_app.extensions import db
    from survey_app.models import User

    query = select(User.id, User.username, User.role, User.session_generation)
    by_name = {row.username: SessionUser(*row) for row in db.session.execute(query)}
    return [by_name[name] for name in ANNOTATORS]


def cast_votes(app, size: int) -> float:
    """Three votes per class, each through `record_vote` in a transaction of its own as
    the vote form's request does; their seconds. The first computes the entry-level
    priors behind the suggestions, as the first vote of a worker does."""
    from survey_app.database import hierarchy_from_db
    from survey_app.votes import record_vote

    with app.app_context():
        users = annotators()
        hierarchy = hierarchy_from_db()
        classes = hierarchy.classes
        started = time.perf_counter()
        for i, image_class in enumerate(classes):
            picks = votes_for(hierarchy.chain_wnids(image_class.wnid), i)
            for user, pick in zip(users, picks, strict=True):
                record_vote(user, image_class.wnid, pick)
            if (i + 1) % max(len(classes) // 10, 1) == 0:
                elapsed = time.perf_counter() - started
                progress(
                    f"{size:,} classes: {3 * (i + 1):,} of {3 * len(classes):,} votes cast, "
                    f"{3 * (i + 1) / elapsed:.0f} votes/s"
                )
        return time.perf_counter() - started


def set_up(folder: Path, wnids: list[str]) -> dict[str, float]:
    """`seed`, then three votes per class; their times."""
    progress(f"{len(wnids):,} classes: flask setup")
    app, setup_s = seed(folder, wnids, **QUEUE)
    progress(f"{len(wnids):,} classes: flask setup took {setup_s:.1f} s; casting the votes")
    return {"setup_s": setup_s, "votes_s": cast_votes(app, len(wnids)), "votes": 3 * len(wnids)}


def progress(message: str) -> None:
    print(f"[growth {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- the worker --------------------------------------------------------------------------
def logged_in(app, username: str):
    client = app.test_client()
    token = TOKEN.search(client.get("/login").get_data(as_text=True)).group(1)
    response = client.post(
        "/login", data={"csrf_token": token, "username": username, "password": PASSWORD}
    )
    if response.status_code not in (302, 303):
        raise SystemExit(f"login as {username} answered {response.status_code}")
    return client


def pages(hierarchy) -> list[tuple[str, str, str]]:
    """(name, who, path) of each page measured; the class pages show a dog breed's."""
    some_class = hierarchy.classes[len(hierarchy.classes) // 2].wnid
    return [
        ("home", "ann1", "/"),
        ("annotate", "ann1", f"/annotate/{some_class}"),
        ("class list", "ann1", "/classes"),
        ("class search 'dog'", "ann1", "/classes?q=dog"),
        ("admin", "boss", "/admin/"),
        ("review summary", "boss", "/admin/review/"),
        ("review classes", "boss", "/admin/review/classes"),
        ("review class", "boss", f"/admin/review/classes/{some_class}"),
        ("disagreements", "boss", "/admin/review/queue"),
        ("labels at a glance", "boss", "/admin/review/overview"),
        ("CIL download", "boss", "/admin/review/download/cil.json"),
    ]


def timed(call) -> tuple[float, object]:
    started = time.perf_counter()
    value = call()
    return time.perf_counter() - started, value


def measured(figures: dict, name: str, call):
    """`call()`; its seconds kept in `figures[name]`, and the process's CPU seconds in
    `figures[name + " cpu"]`, which other load on the machine moves far less."""
    cpu = time.process_time()
    figures[name], value = timed(call)
    figures[f"{name} cpu"] = time.process_time() - cpu
    return value


def peak_rss_mb(pid: int | str = "self") -> float:
    """A process's peak resident memory (VmHWM), in MB."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024


def page_times(clients: dict, hierarchy, repeat: int) -> dict[str, dict[str, float]]:
    """Each page's first server time, then the median and p99 of `repeat` more, asked in
    rounds of one request per page: a moment when another process on the machine takes
    the CPU delays one request of several pages, not several requests of one page."""
    measured = pages(hierarchy)
    times: dict[str, list[float]] = {name: [] for name, _who, _path in measured}
    for _ in range(repeat + 1):
        for name, who, path in measured:
            elapsed, response = timed(lambda: clients[who].get(path))  # noqa: B023
            if response.status_code != 200:
                raise SystemExit(f"{path} answered {response.status_code}")
            times[name].append(elapsed)
    return {
        name: {
            "first ms": 1000 * first,
            "median ms": 1000 * statistics.median(rest),
            "p99 ms": 1000 * p99(rest),
        }
        for name, (first, *rest) in times.items()
    }


def p99(values: list[float]) -> float:
    """The 99th percentile, between the sorted values around it (the largest of fewer
    than 101): of the 30 requests the table once took, the slowest, which one slow
    moment of the machine set; of REPEAT's 200, about the third slowest."""
    if len(values) < 2:
        return max(values)
    return statistics.quantiles(values, n=100, method="inclusive")[98]


def worker(folder: Path, repeat: int) -> dict:
    """A fresh process's figures on the prepared database (see the module's docstring)."""
    from clustering.validate import validate_file
    from survey_app.aggregation import current_aggregation, rebuilding_threads
    from survey_app.database import hierarchy_from_db
    from survey_app.votes import record_vote

    app = make_app(folder, **QUEUE)
    figures: dict = {}
    with app.app_context():
        measured(figures, "aggregation cold s", current_aggregation)
        figures["aggregation warm s"] = timed(current_aggregation)[0]
        hierarchy = hierarchy_from_db()
        wnid = hierarchy.classes[0].wnid

        def change_mind(position: int) -> None:
            """ann1's vote on the first class moves to another synset: the log moves on."""
            user = annotators()[0]
            # A comment of its own: a vote equal to the latest one would add no row.
            comment = f"benchmark {time.time_ns()}"
            record_vote(user, wnid, hierarchy.chain_wnids(wnid)[position], comment=comment)

        change_mind(-1)
        measured(figures, "aggregation after a vote s", current_aggregation)
    clients = {name: logged_in(app, name) for name in ("ann1", "boss")}
    figures["pages"] = page_times(clients, hierarchy, repeat)
    with app.app_context():
        change_mind(-2)
    # The review pages after a vote answer with the kept figures while a thread computes
    # the new ones (AGGREGATION_INLINE_SECONDS), unless the aggregation is fast.
    elapsed, response = timed(lambda: clients["boss"].get("/admin/review/"))
    figures["review summary after a vote ms"] = 1000 * elapsed
    figures["review summary after a vote lagged"] = bool(
        re.search(r"\d+ votes? or decisions? behind", response.text)
    )
    for thread in rebuilding_threads(app):
        thread.join()
    with app.app_context():
        change_mind(-1)
    cil = folder / "cil.json"
    export = app.test_cli_runner().invoke
    result = measured(
        figures, "export after a vote s", lambda: export(args=["export-cil", str(cil)])
    )
    if result.exit_code != 0:
        raise SystemExit(f"flask export-cil failed:\n{result.output}")
    report = measured(figures, "validation s", lambda: validate_file(cil, hierarchy))
    figures["validation ok"] = report.ok
    figures["worker peak RSS MB"] = peak_rss_mb()
    return figures


def warmed_worker(folder: Path) -> dict:
    """gunicorn's warm-up in this fresh process, then the first review summary: what a
    worker forked after the warm-up answers it with (it inherits what the warm-up
    kept)."""
    from survey_app.warmup import warm

    app = make_app(folder, **QUEUE)
    figures: dict = {}
    measured(figures, "warm-up s", lambda: warm(app))
    boss = logged_in(app, "boss")
    elapsed, response = timed(lambda: boss.get("/admin/review/"))
    if response.status_code != 200:
        raise SystemExit(f"the review summary answered {response.status_code}")
    figures["review summary after the warm-up ms"] = 1000 * elapsed
    return figures


def run_worker(folder: Path, repeat: int, mode: str = "--worker") -> dict:
    """`worker` (or, with `mode` "--warmed-worker", `warmed_worker`) in a fresh process,
    as gunicorn would start one."""
    done = subprocess.run(
        [sys.executable, __file__, mode, str(folder), "--repeat", str(repeat)],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    return json.loads(done.stdout.splitlines()[-1])


# --- the table ---------------------------------------------------------------------------
PAGE_GROWTH = 2  # a page's p99 at most twice its figure at the smallest size
SECONDS_GOAL = 5  # the aggregation and the export
RSS_GOAL_MB = 500  # a worker's peak resident memory
MISS = " ✗"


def table(results: dict[int, dict]) -> list[str]:
    """The figures as markdown lines, each figure that misses its goal marked MISS."""
    sizes = sorted(results)
    base = results[sizes[0]]
    lines = [
        "| figure | " + " | ".join(f"{s:,} classes" for s in sizes) + " |",
        "|---|" + "---|" * len(sizes),
    ]

    def row(name: str, cell) -> None:
        lines.append(f"| {name} | " + " | ".join(cell(results[s]) for s in sizes) + " |")

    def mark(missed: bool) -> str:
        return MISS if missed else ""

    def seconds(name: str, goal: float = math.inf):
        """Wall seconds, marked against `goal`, then CPU seconds where measured."""
        return lambda r: (
            f"{r[name]:.2f}"
            + mark(r[name] >= goal)
            + (f" ({r[f'{name} cpu']:.2f} CPU)" if f"{name} cpu" in r else "")
        )

    def megabytes(value: float) -> str:
        return f"{value:.0f}" + mark(value >= RSS_GOAL_MB)

    row("setup (flask setup) s", lambda r: f"{r['setup_s']:.1f}")
    row(
        "votes cast (record_vote): s, votes/s",
        lambda r: f"{r['votes_s']:.0f}, {r['votes'] / r['votes_s']:.0f}/s",
    )
    for name in base["pages"]:
        limit = PAGE_GROWTH * base["pages"][name]["p99 ms"]
        row(
            f"{name}: median / p99 ms (first)",
            lambda r, name=name, limit=limit: (
                "{median ms:.1f} / {p99 ms:.1f}".format(**r["pages"][name])
                + mark(r["pages"][name]["p99 ms"] > limit)
                + " ({first ms:.0f})".format(**r["pages"][name])
            ),
        )
    row(
        "review summary after a vote ms",
        lambda r: (
            f"{r['review summary after a vote ms']:.0f}"
            + (" (kept figures)" if r["review summary after a vote lagged"] else "")
        ),
    )
    row("gunicorn's warm-up s (CPU s)", seconds("warm-up s"))
    row(
        "review summary, first after the warm-up ms",
        lambda r: f"{r['review summary after the warm-up ms']:.0f}",
    )
    row("aggregation cold s (CPU s)", seconds("aggregation cold s", SECONDS_GOAL))
    row("aggregation after a vote s (CPU s)", seconds("aggregation after a vote s", SECONDS_GOAL))
    row("aggregation warm s", lambda r: f"{r['aggregation warm s']:.3f}")
    row("export-cil after a vote s (CPU s)", seconds("export after a vote s", SECONDS_GOAL))
    row(
        "validate s (CPU s)",
        lambda r: seconds("validation s")(r) + ("" if r["validation ok"] else " invalid" + MISS),
    )
    row("one-client worker peak RSS MB", lambda r: megabytes(r["worker peak RSS MB"]))
    if any("load" in r for r in results.values()):
        base_load = base.get("load", {})
        page_limit = PAGE_GROWTH * base_load.get("page_p99_ms", math.inf)
        vote_limit = PAGE_GROWTH * base_load.get("vote_p99_ms", math.inf)

        def load_row(name: str, cell) -> None:
            row(name, lambda r: cell(r) if "load" in r else "failed (see stderr)")

        load_row(
            "load test: votes/s stored (offered)",
            lambda r: "{votes_per_s:.0f} ({offered_votes_per_s:.0f})".format(**r["load"]),
        )
        load_row(
            "load test: page p50 / p99 ms",
            lambda r: (
                "{page_p50_ms:.1f} / {page_p99_ms:.1f}".format(**r["load"])
                + mark(r["load"]["page_p99_ms"] > page_limit)
            ),
        )
        load_row(
            "load test: vote p50 / p99 ms",
            lambda r: (
                "{vote_p50_ms:.1f} / {vote_p99_ms:.1f}".format(**r["load"])
                + mark(r["load"]["vote_p99_ms"] > vote_limit)
            ),
        )
        load_row(
            "load test: server CPU per vote ms",
            lambda r: f"{r['load'].get('cpu_app_ms_per_vote', float('nan')):.1f}",
        )
        load_row(
            "load test: errors, 5xx, lost, duplicated",
            lambda r: (
                "{errors}, {server_errors}, {lost}, {duplicated}".format(**r["load"])
                + mark(any(r["load"][k] for k in ("server_errors", "lost", "duplicated")))
            ),
        )
        load_row(
            "load test: gunicorn worker peak RSS MB",
            lambda r: megabytes(r["load"]["workers peak RSS MB"]),
        )
        load_row(
            "load test: gunicorn ready s; first review summary ms",
            lambda r: (
                f"{r['load']['gunicorn ready s']:.1f}; {r['load']['first review summary ms']:.0f}"
            ),
        )
    if len(sizes) > 1:
        last = results[sizes[-1]]["pages"]
        ratios = ", ".join(
            f"{name} {last[name]['p99 ms'] / page['p99 ms']:.2f}"
            for name, page in base["pages"].items()
        )
        lines += ["", f"p99 at {sizes[-1]:,} classes / p99 at {sizes[0]:,}: {ratios}"]
    lines += [
        "",
        (
            f"{MISS.strip()}: misses its goal (a page's p99 over {PAGE_GROWTH} times its figure at "
            f"{sizes[0]:,} classes; aggregation or export {SECONDS_GOAL} s or more; a worker "
            f"{RSS_GOAL_MB} MB or more; any 5xx, lost or duplicated vote)."
        ),
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=list(LISTS), choices=list(LISTS))
    parser.add_argument(
        "--repeat", type=int, default=REPEAT, help="requests per page after the first"
    )
    parser.add_argument(
        "--load-seconds", type=float, default=20, help="the load test's length per size (0: none)"
    )
    parser.add_argument("--annotators", type=int, default=32, help="the load test's annotators")
    parser.add_argument("--out", type=Path, help="also write the table here, as markdown")
    parser.add_argument(
        "--wheel-dir",
        type=Path,
        help="where the timm wheel is, or where pip puts it (None: a temporary folder)",
    )
    parser.add_argument(
        "--keep",
        type=Path,
        help="keep each size's database under this folder; one kept there is measured again "
        "without its set-up",
    )
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--warmed-worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.repeat)))
        return
    if args.warmed_worker:
        print(json.dumps(warmed_worker(args.warmed_worker)))
        return
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        wheel_dir = args.wheel_dir or Path(scratch)
        results = {}
        for size in sorted(args.sizes):
            folder = (args.keep or Path(scratch)) / f"size-{size}"
            folder.mkdir(parents=True, exist_ok=True)
            done = folder / "setup.json"  # a kept database is measured again as it is
            if not done.exists():
                done.write_text(json.dumps(set_up(folder, class_list(size, wheel_dir))))
            results[size] = json.loads(done.read_text())
            progress(f"{size:,} classes: gunicorn's warm-up, then the review summary")
            results[size] |= run_worker(folder, args.repeat, "--warmed-worker")
            progress(f"{size:,} classes: the pages, aggregation, export and validation")
            results[size] |= run_worker(folder, args.repeat)
            progress(f"{size:,} classes: {json.dumps(results[size])}")
            if args.load_seconds:
                progress(f"{size:,} classes: the load test")
                # Imported here: the measured worker process does without the load
                # test's modules (psycopg among them, 8 MB of its memory).
                from benchmarks.growth_load import load_test

                try:
                    results[size]["load"] = load_test(folder, args.load_seconds, args.annotators)
                except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
                    # The other figures took minutes: they are printed all the same.
                    progress(f"{size:,} classes: the load test failed: {exc!r}")
            progress(f"{size:,} classes, the load test: {json.dumps(results[size].get('load'))}")
    lines = table(results)
    print("\n".join(lines))
    if args.out:
        args.out.write_text("\n".join(lines) + "\n")
    progress(f"done in {(time.perf_counter() - started) / 60:.1f} min")


if __name__ == "__main__":
    main()
