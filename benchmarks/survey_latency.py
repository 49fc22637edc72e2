"""How fast the annotate page renders and a vote is accepted, with ImageNet-1k seeded.

Loads the ImageNet-1k hierarchy (the app's saved copy, built from WordNet
and saved the first time), seeds a fresh SQLite database in a
temporary folder, adds other annotators' votes so the queue has real tallies,
logs in through the login form, then walks the queue: each step times
GET /annotate/<wnid> (the page) and POST /annotate/<wnid> (the vote, up to its
redirect to the next class), through the Flask test client in this process.

    .venv/bin/python benchmarks/survey_latency.py [--votes 300] [--others 2]
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from pathlib import Path

from flask_migrate import upgrade
from sqlalchemy import insert

from clustering.hierarchy import Hierarchy
from survey_app import create_app
from survey_app.accounts import create_user
from survey_app.counts import fill_search_counts
from survey_app.extensions import db
from survey_app.models import Vote
from survey_app.seeding import seed_hierarchy

ROOT = Path(__file__).resolve().parent.parent

PASSWORD = "benchmark password"
HIDDEN = re.compile(r'<input[^>]*name="(csrf_token|submission_id)"[^>]*value="([^"]*)"')
CHECKED = re.compile(r'name="synset" value="(n\d{8})"[^>]* checked')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--votes", type=int, default=300, help="classes to render and vote on (default: 300)"
    )
    parser.add_argument(
        "--others",
        type=int,
        default=2,
        help="other annotators whose votes on every class are stored first (default: 2)",
    )
    return parser.parse_args()


def prepare(folder: Path, others: int):
    started = time.perf_counter()
    hierarchy = Hierarchy.load_or_build(ROOT / "instance" / "hierarchy.json")
    built = time.perf_counter()
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'bench.sqlite3'}",
            "THUMBNAIL_DIR": str(folder / "thumbnails"),
            # one annotator votes faster than a person can: time it, not the limit
            "VOTE_RATE_LIMIT": 10**9,
        }
    )
    with app.app_context():
        upgrade()
        seed_hierarchy(hierarchy)
        fill_search_counts("wordfreq", progress=False)
        for number in range(others):
            user = create_user(f"other{number}", PASSWORD)
            db.session.flush()
            db.session.execute(
                insert(Vote),
                [
                    {"annotator_id": user.id, "class_wnid": c.wnid, "synset_wnid": c.wnid}
                    for c in hierarchy.classes
                ],
            )
        create_user("bench", PASSWORD)
        db.session.commit()
    print(
        f"hierarchy (the app's saved copy, else WordNet) {built - started:.1f} s, seed and counts "
        f"{time.perf_counter() - built:.1f} s: {len(hierarchy.classes)} classes, "
        f"{len(hierarchy.synsets)} synsets, {others * len(hierarchy.classes)} earlier votes"
    )
    return app


def log_in(client) -> None:
    page = client.get("/login").text
    fields = dict(HIDDEN.findall(page))
    response = client.post("/login", data={**fields, "username": "bench", "password": PASSWORD})
    assert response.status_code == 302, response.text


def walk_queue(client, steps: int) -> tuple[list[float], list[float]]:
    pages, votes = [], []
    location = client.get("/next").location
    for _ in range(steps):
        started = time.perf_counter()
        page = client.get(location)
        pages.append(time.perf_counter() - started)
        assert page.status_code == 200, page.status_code
        fields = dict(HIDDEN.findall(page.text))
        fields["synset"] = CHECKED.search(page.text).group(1)  # accept the suggestion
        started = time.perf_counter()
        response = client.post(location, data=fields)
        votes.append(time.perf_counter() - started)
        assert response.status_code == 303, response.status_code
        location = response.location
    return pages, votes


def summary(name: str, seconds: list[float]) -> str:
    p99 = statistics.quantiles(seconds, n=100, method="inclusive")[98]
    return (
        f"{name:<16} median {statistics.median(seconds) * 1000:6.2f} ms   "
        f"p99 {p99 * 1000:6.2f} ms   ({len(seconds)} requests)"
    )


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory() as folder:
        app = prepare(Path(folder), args.others)
        client = app.test_client()
        log_in(client)
        walk_queue(client, 5)  # warm-up: the per-process hierarchy cache, templates
        pages, votes = walk_queue(client, args.votes)
    print(summary("annotate page", pages))
    print(summary("accept a vote", votes))


if __name__ == "__main__":
    main()
