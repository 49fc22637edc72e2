"""The growth benchmark's load test (`growth.py`, step 5): load_votes' measurement on a
size's database, and the workers' peak resident memory read before they stop; before
the annotators start, how long gunicorn took to answer (its master's warm-up) and the
admin's first review summary in a worker. A module of its own so that growth's measured
worker process does not import the load test's modules."""

from __future__ import annotations

import contextlib
import sqlite3
import sys
import time
from pathlib import Path

import requests
from sqlalchemy import make_url

from benchmarks.growth import PASSWORD, QUEUE, TOKEN, database_url, peak_rss_mb
from benchmarks.load_votes import Survey, measure, server_processes


class GrowthSurvey(Survey):
    """load_votes' server on a size's database, its workers' peak resident memory read
    before they stop. gunicorn's master computes what the requests keep before it forks
    them (survey_app/warmup.py), so their first requests are as quick as the rest."""

    workers_peak_rss_mb: float = 0.0
    ready_s: float = 0.0  # from gunicorn's start to /health answering in every worker
    first_review_ms: float = 0.0  # the admin's first review summary then

    def start(self, timeout: float = 120) -> None:
        started = time.perf_counter()
        super().start(timeout)
        self.ready_s = time.perf_counter() - started
        self.first_review_ms = 1000 * first_review_summary(f"http://127.0.0.1:{self.port}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            pids = server_processes(self)["app"]
            self.workers_peak_rss_mb = max(peak_rss_mb(pid) for pid in pids)
        super().stop()


def load_test(folder: Path, seconds: float, annotators: int) -> dict:
    """`load_votes.measure` on the size's database (gunicorn, `annotators` at PACE votes/s
    each for `seconds`), its report on stderr; its figures and the workers' peak RSS."""
    survey = GrowthSurvey(database_url(folder), folder, folder / "hierarchy.json")
    survey.settings |= {f"CIL_{name}": str(value) for name, value in QUEUE.items()}
    names = load_annotators(survey, annotators)
    with contextlib.redirect_stdout(sys.stderr):
        figures = measure("sqlite", survey, names, seconds, max_votes=10**9)
    return figures | {
        "workers peak RSS MB": survey.workers_peak_rss_mb,
        "gunicorn ready s": survey.ready_s,
        "first review summary ms": survey.first_review_ms,
    }


def first_review_summary(base: str) -> float:
    """Seconds the review summary takes as the admin's first page after logging in."""
    with requests.Session() as session:
        token = TOKEN.search(session.get(f"{base}/login", timeout=60).text).group(1)
        login = {"csrf_token": token, "username": "boss", "password": PASSWORD}
        session.post(f"{base}/login", data=login, timeout=60).raise_for_status()
        started = time.perf_counter()
        page = session.get(f"{base}/admin/review/", timeout=60, allow_redirects=False)
        elapsed = time.perf_counter() - started
        if page.status_code != 200:  # a failed login is sent back to the login page
            raise RuntimeError(f"the review summary answered {page.status_code}")
        return elapsed


def load_annotators(survey: Survey, count: int) -> list[str]:
    """`count` of load_votes' annotators: added, or those a kept database holds from an
    earlier load test (their votes stay, their classes are no longer theirs to take)."""
    with sqlite3.connect(make_url(survey.database_url).database) as connection:
        held = [
            name
            for (name,) in connection.execute(
                "SELECT username FROM users WHERE username LIKE 'annotator%' ORDER BY username"
            )
        ]
    return held[:count] if len(held) >= count else survey.add_annotators(count)
