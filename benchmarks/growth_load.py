"""The growth benchmark's load test (`growth.py`, step 4): load_votes' measurement on a
size's database, with each gunicorn worker warmed (a page and a vote) before the clock
starts and the workers' peak resident memory read before they stop. A module of its own so that
growth's measured worker process does not import the load test's modules."""

from __future__ import annotations

import contextlib
import sqlite3
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import make_url

from benchmarks.growth import QUEUE, database_url, peak_rss_mb
from benchmarks.load_votes import (
    Browser,
    Results,
    Survey,
    log_in,
    measure,
    server_processes,
    vote_form,
)


class GrowthSurvey(Survey):
    """load_votes' server on a size's database, its workers warmed before the clock
    starts, their peak resident memory read before they stop."""

    warm_as: str = ""  # the annotator whose pages warm the workers
    workers_peak_rss_mb: float = 0.0

    def start(self, timeout: float = 300) -> None:
        super().start(timeout)
        try:
            warm(self.port, self.warm_as)
        except BaseException:  # no gunicorn left holding the port and the database
            self.stop()
            raise

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            pids = server_processes(self)["app"]
            self.workers_peak_rss_mb = max(peak_rss_mb(pid) for pid in pids)
        super().stop()


def warm(port: int, username: str, connections: int = 8) -> None:
    """Each worker's first annotate page and first vote, before the clock: the page reads
    the hierarchy and computes the priors, the vote the team's skills from the whole vote
    log (each seconds at ImageNet-21k's size; at 21,843 classes, unwarmed, the queued
    requests timed out and no vote was stored in 20 s). Asked on `connections`
    connections at once so that every worker gets some (gunicorn's reuse_port spreads
    them). The votes go without a submission id, which the load test's check of
    acknowledged votes counts."""

    def one(_number: int) -> None:
        browser = Browser("127.0.0.1", port)
        # The first page and vote wait for the priors and the skills, and those queued
        # behind them on the worker's one thread too: far over a page's usual 10 s.
        browser.connection.timeout = 600
        try:
            if not log_in(browser, username, Results()):
                raise RuntimeError(f"the warm-up could not log in as {username}")
            path = browser.send("GET", "/next").location or ""
            if path.startswith("/annotate/"):
                form = vote_form(browser.send("GET", path).text, lambda candidates: candidates[0])
                if form is not None:
                    del form["submission_id"]
                    status = browser.send("POST", path, form).status
                    if status != 303:
                        raise RuntimeError(f"the warm-up's vote answered {status}")
        finally:
            browser.close()

    with ThreadPoolExecutor(connections) as pool:
        list(pool.map(one, range(connections)))


def load_test(folder: Path, seconds: float, annotators: int) -> dict:
    """`load_votes.measure` on the size's database (gunicorn, `annotators` at PACE votes/s
    each for `seconds`), its report on stderr; its figures and the workers' peak RSS."""
    survey = GrowthSurvey(database_url(folder), folder, folder / "hierarchy.json")
    survey.settings |= {f"CIL_{name}": str(value) for name, value in QUEUE.items()}
    names = load_annotators(survey, annotators + 1)
    survey.warm_as = names.pop()
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
