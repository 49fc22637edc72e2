"""The growth benchmark's load test (`growth.py`, step 4): load_votes' measurement on a
size's database, and the workers' peak resident memory read before they stop. A module of its own so that
growth's measured worker process does not import the load test's modules."""

from __future__ import annotations

import contextlib
import sqlite3
import sys
from pathlib import Path

from sqlalchemy import make_url

from benchmarks.growth import QUEUE, database_url, peak_rss_mb
from benchmarks.load_votes import Survey, measure, server_processes


class GrowthSurvey(Survey):
    """load_votes' server on a size's database, its workers' peak resident memory read
    before they stop. gunicorn's master computes what the requests keep before it forks
    them (survey_app/warmup.py), so their first requests are as quick as the rest."""

    workers_peak_rss_mb: float = 0.0

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
    return figures | {"workers peak RSS MB": survey.workers_peak_rss_mb}


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
