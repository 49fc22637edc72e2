"""Weight and server time of the survey's pages at ImageNet-1k with three
annotators' votes on every class.

Seeds a fresh SQLite database in a temporary folder with the 1,000 classes
(the app's saved hierarchy, built from WordNet the first time), stores three
annotators' votes on each class (mostly the parent, some the class itself or
the grandparent, a comment now and then), logs in through the login form as an
annotator and as an admin, and requests each page through the Flask test
client in this process: the first request (cold: the process builds what it
keeps) and the median of the next `--repeat`. The weight is the HTML plus the
CSS and scripts it links, without pictures (no image source is set).

    .venv/bin/python benchmarks/survey_pages.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from flask_migrate import upgrade

from clustering.hierarchy import Hierarchy
from survey_app import create_app
from survey_app.accounts import create_user
from survey_app.counts import fill_search_counts
from survey_app.extensions import db
from survey_app.models import Vote
from survey_app.seeding import seed_hierarchy

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "benchmark password"
TENCH, DALMATIAN = "n01440764", "n02110341"
PAGES = [  # (who, path)
    ("ann1", f"/annotate/{TENCH}"),
    ("ann1", f"/annotate/{DALMATIAN}"),
    ("ann1", "/"),
    ("ann1", "/classes"),
    ("boss", "/admin/"),
    ("boss", "/admin/review/"),
    ("boss", "/admin/review/classes"),
    ("boss", "/admin/review/queue"),
    ("boss", f"/admin/review/classes/{DALMATIAN}"),
    ("boss", "/admin/review/overview"),
]
LINKED = re.compile(r'<(?:link rel="stylesheet" href|script src)="([^"]+)"')
TOKEN = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def prepare(folder: Path):
    hierarchy = Hierarchy.load_or_build(ROOT / "instance" / "hierarchy.json")
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'bench.sqlite3'}",
            "THUMBNAIL_DIR": str(folder / "thumbnails"),
            "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        }
    )
    with app.app_context():
        upgrade()
        seed_hierarchy(hierarchy)
        fill_search_counts("wordfreq", progress=False)
        ids = {
            name: create_user(name, PASSWORD, "annotator").id for name in ("ann1", "ann2", "ann3")
        }
        create_user("boss", PASSWORD, "admin")
        start = datetime(2026, 11, 20, 9)
        rows = []
        for i, image_class in enumerate(hierarchy.classes):
            chain = hierarchy.chain_wnids(image_class.wnid)
            picks = {
                "ann1": chain[-2],
                "ann2": chain[-2] if i % 7 else chain[-1],
                "ann3": chain[-3] if i % 5 == 0 else chain[-2],
            }
            for name, label in picks.items():
                rows.append(
                    Vote(
                        annotator_id=ids[name],
                        class_wnid=image_class.wnid,
                        synset_wnid=label,
                        created_at=start + timedelta(seconds=7 * len(rows)),
                        comment="not sure" if i % 97 == 0 and name == "ann3" else None,
                    )
                )
        db.session.add_all(rows)
        db.session.commit()
    return app


def logged_in(app, username: str):
    client = app.test_client()
    token = TOKEN.search(client.get("/login").get_data(as_text=True)).group(1)
    response = client.post(
        "/login", data={"csrf_token": token, "username": username, "password": PASSWORD}
    )
    assert response.status_code in (302, 303), response.status_code
    return client


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="warm requests per page (5)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        app = prepare(Path(folder))
        clients = {name: logged_in(app, name) for name in ("ann1", "boss")}
        print(f"{'page':32} {'KB':>7} {'first ms':>9} {'median ms':>10}")
        for who, path in PAGES:
            client = clients[who]
            started = time.perf_counter()
            response = client.get(path)
            first = time.perf_counter() - started
            assert response.status_code == 200, (path, response.status_code)
            html = response.get_data()
            linked = sum(len(client.get(url).get_data()) for url in LINKED.findall(html.decode()))
            times = []
            for _ in range(args.repeat):
                started = time.perf_counter()
                client.get(path)
                times.append(time.perf_counter() - started)
            print(
                f"{path:32} {(len(html) + linked) / 1024:7.1f} {1000 * first:9.0f} "
                f"{1000 * statistics.median(times):10.1f}"
            )


if __name__ == "__main__":
    main()
