"""How the survey grows with its class list: ImageNet-1k (1,000 classes), ImageNet-21k's
winter-21 release (10,450) and its full list (21,843).

Per size, in a fresh SQLite database in a temporary folder: `flask setup` with the
class list (the hierarchy built from WordNet, the schema, the seeding, the offline
search counts), then three annotators' votes on every class cast through the app's
own `record_vote` (mostly the parent, some the class itself or the grandparent).
Then a fresh worker process (as gunicorn would start one) logs in through the login
form as an annotator and as an admin, and with one client requests each page once
(first: the worker computes what it keeps) and `--repeat` times more (median and
p99 of those), times the aggregation behind the review pages (cold: a fresh
process's first; after a vote: the vote log moved on; warm: kept), `flask
export-cil` after a vote, and the validator on the CIL it wrote, and reports its
peak resident memory (VmHWM).

The two ImageNet-21k lists come from the timm wheel, downloaded with pip into a
temporary folder (or `--wheel-dir`) and read from the zip; they are not kept.

    .venv/bin/python benchmarks/growth.py [--sizes 1000 10450 21843] [--repeat 30]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TIMM = "timm==1.0.31"
LISTS = {  # size -> the class list's file in the timm wheel (None: ImageNet-1k)
    1000: None,
    10450: "timm/data/_info/imagenet21k_miil_w21_synsets.txt",
    21843: "timm/data/_info/imagenet21k_goog_synsets.txt",
}
PASSWORD = "benchmark password"
ANNOTATORS = ("ann1", "ann2", "ann3")
TOKEN = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


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
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'growth.sqlite3'}",
            "HIERARCHY_FILE": str(folder / "hierarchy.json"),
            "THUMBNAIL_DIR": str(folder / "thumbnails"),
            "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
            "VOTE_RATE_LIMIT": 0,  # one script casts every vote
            **settings,
        }
    )


def votes_for(chain: list[str], i: int) -> tuple[str, str, str]:
    """The three annotators' picks on the `i`th class: mostly the parent, some the
    class itself or the grandparent."""
    parent = chain[-2] if len(chain) > 1 else chain[-1]
    return (
        parent,
        parent if i % 7 else chain[-1],
        chain[-3] if i % 5 == 0 and len(chain) > 2 else parent,
    )


def set_up(folder: Path, wnids: list[str]) -> dict[str, float]:
    """`flask setup` on the class list, then three votes per class; their times."""
    from survey_app.accounts import create_user
    from survey_app.database import hierarchy_from_db
    from survey_app.votes import record_vote

    listing = folder / "classes.txt"
    listing.write_text("\n".join(wnids) + "\n")
    app = make_app(folder, CLASS_LIST=str(listing))
    started = time.perf_counter()
    result = app.test_cli_runner().invoke(args=["setup"])
    setup_s = time.perf_counter() - started
    if result.exit_code != 0:
        raise SystemExit(f"flask setup failed:\n{result.output}")
    with app.app_context():
        users = [create_user(name, PASSWORD, "annotator") for name in ANNOTATORS]
        create_user("boss", PASSWORD, "admin")
        hierarchy = hierarchy_from_db()
        started = time.perf_counter()
        for i, image_class in enumerate(hierarchy.classes):
            picks = votes_for(hierarchy.chain_wnids(image_class.wnid), i)
            for user, pick in zip(users, picks, strict=True):
                record_vote(user, image_class.wnid, pick)
        votes_s = time.perf_counter() - started
    return {"setup_s": setup_s, "votes_s": votes_s, "votes": 3 * len(wnids)}


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


def peak_rss_mb() -> float:
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024


def page_times(clients: dict, hierarchy, repeat: int) -> dict[str, dict[str, float]]:
    """Each page's first, median and p99 server time: one request, then `repeat` more."""
    figures = {}
    for name, who, path in pages(hierarchy):
        times = []
        for _ in range(repeat + 1):
            elapsed, response = timed(lambda: clients[who].get(path))  # noqa: B023
            if response.status_code != 200:
                raise SystemExit(f"{path} answered {response.status_code}")
            times.append(elapsed)
        ordered = sorted(times[1:])
        figures[name] = {
            "first ms": 1000 * times[0],
            "median ms": 1000 * statistics.median(ordered),
            "p99 ms": 1000 * ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))],
        }
    return figures


def worker(folder: Path, repeat: int) -> dict:
    """A fresh process's figures on the prepared database (see the module's docstring)."""
    from sqlalchemy import select

    from clustering.validate import validate_file
    from survey_app.aggregation import current_aggregation, rebuilding_threads
    from survey_app.database import hierarchy_from_db
    from survey_app.extensions import db
    from survey_app.models import User
    from survey_app.votes import record_vote

    app = make_app(folder)
    figures: dict = {}
    with app.app_context():
        figures["aggregation cold s"] = timed(current_aggregation)[0]
        figures["aggregation warm s"] = timed(current_aggregation)[0]
        hierarchy = hierarchy_from_db()
        wnid = hierarchy.classes[0].wnid

        def change_mind(position: int) -> None:
            """ann1's vote on the first class moves to another synset: the log moves on."""
            user = db.session.scalars(select(User).filter_by(username="ann1")).one()
            # A comment of its own: a vote equal to the latest one would add no row.
            comment = f"benchmark {time.time_ns()}"
            record_vote(user, wnid, hierarchy.chain_wnids(wnid)[position], comment=comment)

        change_mind(-1)
        figures["aggregation after a vote s"] = timed(current_aggregation)[0]
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
    export_s, result = timed(lambda: app.test_cli_runner().invoke(args=["export-cil", str(cil)]))
    if result.exit_code != 0:
        raise SystemExit(f"flask export-cil failed:\n{result.output}")
    figures["export after a vote s"] = export_s
    validate_s, report = timed(lambda: validate_file(cil, hierarchy))
    figures["validation s"] = validate_s
    figures["validation ok"] = report.ok
    figures["worker peak RSS MB"] = peak_rss_mb()
    return figures


def run_worker(folder: Path, repeat: int) -> dict:
    """`worker` in a fresh process, as gunicorn would start one."""
    done = subprocess.run(
        [sys.executable, __file__, "--worker", str(folder), "--repeat", str(repeat)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout.splitlines()[-1])


# --- the table ---------------------------------------------------------------------------
def print_table(results: dict[int, dict]) -> None:
    sizes = sorted(results)
    print("| figure | " + " | ".join(f"{s:,} classes" for s in sizes) + " |")
    print("|---|" + "---|" * len(sizes))

    def row(name: str, values: list[str]) -> None:
        print(f"| {name} | " + " | ".join(values) + " |")

    row("setup (flask setup) s", [f"{results[s]['setup_s']:.1f}" for s in sizes])
    row(
        "votes cast (record_vote), votes/s",
        [
            f"{results[s]['votes']:,}, {results[s]['votes'] / results[s]['votes_s']:.0f}/s"
            for s in sizes
        ],
    )
    for name in results[sizes[0]]["pages"]:
        row(
            f"{name}: median / p99 ms (first)",
            [
                "{median ms:.1f} / {p99 ms:.1f} ({first ms:.0f})".format(
                    **results[s]["pages"][name]
                )
                for s in sizes
            ],
        )
    row(
        "review summary after a vote ms",
        [
            f"{results[s]['review summary after a vote ms']:.0f}"
            + (" (kept figures)" if results[s]["review summary after a vote lagged"] else "")
            for s in sizes
        ],
    )
    for name in (
        "aggregation cold s",
        "aggregation after a vote s",
        "aggregation warm s",
        "export after a vote s",
        "validation s",
    ):
        row(name, [f"{results[s][name]:.3f}" for s in sizes])
    row("worker peak RSS MB", [f"{results[s]['worker peak RSS MB']:.0f}" for s in sizes])
    first = results[sizes[0]]["pages"]
    last = results[sizes[-1]]["pages"]
    ratios = ", ".join(
        f"{name} {last[name]['p99 ms'] / first[name]['p99 ms']:.2f}" for name in first
    )
    print(f"\np99 at {sizes[-1]:,} classes / p99 at {sizes[0]:,}: {ratios}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(LISTS), choices=list(LISTS))
    parser.add_argument(
        "--repeat", type=int, default=30, help="requests per page after the first (30)"
    )
    parser.add_argument(
        "--wheel-dir", type=Path, help="where the timm wheel is or goes (temporary)"
    )
    parser.add_argument(
        "--keep",
        type=Path,
        help="keep each size's database under this folder; one kept there is measured again",
    )
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.repeat)))
        return
    with tempfile.TemporaryDirectory() as scratch:
        wheel_dir = args.wheel_dir or Path(scratch)
        results = {}
        for size in args.sizes:
            folder = (args.keep or Path(scratch)) / f"size-{size}"
            folder.mkdir(parents=True, exist_ok=True)
            done = folder / "setup.json"  # a kept database is measured again as it is
            if not done.exists():
                done.write_text(json.dumps(set_up(folder, class_list(size, wheel_dir))))
            results[size] = json.loads(done.read_text())
            results[size] |= run_worker(folder, args.repeat)
            print(f"{size:,} classes: {json.dumps(results[size])}", file=sys.stderr, flush=True)
        print_table(results)


if __name__ == "__main__":
    main()
