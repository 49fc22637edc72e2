"""Load test of the survey: N simulated annotators log in, open their next class
and vote, against the app under gunicorn (gunicorn.conf.py) on 127.0.0.1, for a
bounded time.

Each annotator logs in through the login form (all of them before the clock
starts, as the password hash is slow by design), then repeats what a person's
browser does: GET the annotate page of its next class, POST the page's own
form (its CSRF token and submission id, one of its candidates), and follow the
redirect to the next class. Each sends at most --pace votes per second (0: a
closed loop), waiting with the page open until its next vote is due, which is
how fast 32 people would have to click to make 200 votes/s.

Prints the offered and achieved votes/s, p50/p99 latency of the annotate page
and of the vote, the error count, the server's CPU time per vote (the app's
workers and, on PostgreSQL, the database's backends) with the votes/s the machine's
cores could take at that cost, and checks that every vote the server
acknowledged is in the database exactly once (and, on SQLite, that the
integrity check passes). Loopback only; stops by itself after `--seconds` or
`--max-votes`.

    .venv/bin/python benchmarks/load_votes.py                      # SQLite, 32 annotators, 60 s
    .venv/bin/python benchmarks/load_votes.py --database postgres
    .venv/bin/python benchmarks/load_votes.py --pace 0             # as fast as the server answers
    .venv/bin/python benchmarks/load_votes.py --short              # the CI smoke run
"""

from __future__ import annotations

import argparse
import http.client
import math
import os
import random
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import psycopg
from sqlalchemy import make_url, text

from clustering.dbread import engine_for
from clustering.hierarchy import Hierarchy
from survey_app.config import defaults

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PASSWORD = "load-test-password"
CSRF_RE = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
CANDIDATE_RE = re.compile(r'name="synset" value="(n\d{8})"')
SUBMISSION_RE = re.compile(r'name="submission_id" type="hidden" value="([^"]+)"')
# The app's limit on votes per annotator stays on, checked on every vote as in
# service (the same lookup as its default of 60 a minute), over a window short
# enough that the simulated annotators never reach it.
SETTINGS = {"CIL_VOTE_RATE_LIMIT": "60", "CIL_VOTE_RATE_WINDOW_SECONDS": "1"}
# Votes per second per annotator: 32 of them offer 224 votes/s, a margin over
# the 200, as an annotator whose page comes late falls behind its pace.
PACE = 7.0
DEFAULT_MAX_VOTES = defaults(str(ROOT / "instance"))["MAX_VOTES"]
# Votes per second the server is assumed to take from annotators who do not wait
# (--pace 0), to size the survey's work.
CLOSED_LOOP_VOTES_PER_S = 500


def queue_that_outlasts(classes: int, votes: float) -> dict[str, str]:
    """The queue's settings (CIL_*) under which a survey of `classes` classes still has
    work for every annotator after `votes` votes: each class open until it has
    MAX_VOTES (the target out of reach, as in growth.QUEUE), and MAX_VOTES the default
    or, where that is too few, one more than the votes per class. The queue sends a
    class no more annotators at once than it takes votes (work_queue's holds): with the
    default at 1,000 classes, 32 annotators at 224 votes/s close the survey in under
    25 s and go home, and the rest of the run measures nothing."""
    most = max(DEFAULT_MAX_VOTES, math.ceil(votes / classes) + 1)
    return {"CIL_MAX_VOTES": str(most), "CIL_TARGET_CONFIDENCE": repr(1 - 1e-12)}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


# --- the server ------------------------------------------------------------------------
@dataclass
class Survey:
    """A seeded survey database and the app serving it under gunicorn."""

    database_url: str
    workdir: Path
    hierarchy_file: Path
    workers: int = 2
    settings: dict[str, str] = field(default_factory=lambda: dict(SETTINGS))  # CIL_* and such
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def env(self) -> dict[str, str]:
        # PYTHONPATH: the server runs this checkout's code, whatever is installed.
        return {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "SECRET_KEY": "load-test",
            "CIL_HIERARCHY_FILE": str(self.hierarchy_file),
            "PYTHONPATH": str(ROOT),
            **self.settings,
        }

    def flask(self, *args: str, stdin: str | None = None) -> str:
        result = subprocess.run(
            [str(VENV_BIN / "flask"), "--app", "survey_app", *args],
            env=self.env,
            cwd=self.workdir,
            input=stdin,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode:
            raise RuntimeError(f"flask {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
        return result.stdout

    def prepare(self, annotators: int) -> list[str]:
        """Migrate, seed and fill the counts (`flask setup`), and add the annotators."""
        self.flask("setup", "--hierarchy", str(self.hierarchy_file))
        return self.add_annotators(annotators)

    def add_annotators(self, annotators: int) -> list[str]:
        names = [f"annotator{i:03d}" for i in range(annotators)]
        script = (
            "from survey_app import create_app\n"
            "from survey_app.accounts import create_user\n"
            "from survey_app.extensions import db\n"
            "app = create_app()\n"
            "with app.app_context():\n"
            f"    for name in {names!r}:\n"
            f"        create_user(name, {PASSWORD!r})\n"
            "    db.session.commit()\n"
        )
        subprocess.run(
            [sys.executable, "-c", script],
            env=self.env,
            cwd=self.workdir,
            check=True,
            capture_output=True,
        )
        return names

    def start(self, timeout: float = 60) -> None:
        """Serve the survey; return once /health answers. A server that does not answer
        within `timeout` seconds is stopped before the error is raised: no caller is left
        with a gunicorn holding the port (and the database) after a failed start."""
        log = self.workdir / "gunicorn.log"
        with log.open("ab") as stderr:
            self.process = subprocess.Popen(
                [
                    str(VENV_BIN / "gunicorn"),
                    "--config",
                    str(ROOT / "gunicorn.conf.py"),
                    "--workers",
                    str(self.workers),
                    "--bind",
                    f"127.0.0.1:{self.port}",
                    "--log-level",
                    "warning",
                    "survey_app:create_app()",
                ],
                env=self.env,
                cwd=self.workdir,
                start_new_session=True,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if self.healthy() and self.listening() >= self.workers:
                    return
                if self.process.poll() is not None:
                    raise RuntimeError(f"gunicorn exited:\n{log.read_text()}")
                time.sleep(0.1)
            raise RuntimeError(f"gunicorn did not answer /health within {timeout:g} s")
        except BaseException:
            self.stop()
            raise

    def healthy(self) -> bool:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            connection.request("GET", "/health")
            return connection.getresponse().status == 200
        except (OSError, http.client.HTTPException):
            return False
        finally:
            connection.close()

    def listening(self) -> int:
        """How many sockets listen on the port: one per worker (gunicorn.conf.py's
        reuse_port), each opened as its worker starts. The kernel spreads connections
        over the sockets there are; one made while a worker had not started yet stays
        with the others (a keep-alive connection for good)."""
        port = f":{self.port:04X}"
        with open("/proc/net/tcp") as rows:  # IPv4: the server binds 127.0.0.1
            fields = [row.split() for row in rows]  # sl, local address, remote, state, ...
        return sum(1 for f in fields if f[1].endswith(port) and f[3] == "0A")  # LISTEN

    def kill(self) -> None:
        """SIGKILL the whole gunicorn process group: no clean shutdown at all."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


# --- the annotators --------------------------------------------------------------------
@dataclass
class Results:
    page_ms: list[float] = field(default_factory=list)
    vote_ms: list[float] = field(default_factory=list)
    acknowledged: list[str] = field(default_factory=list)  # submission ids
    errors: Counter[str] = field(default_factory=Counter)
    server_errors: int = 0
    late_votes: int = 0  # paced votes sent after the moment they were due
    login_s: float = 0.0  # how long logging every annotator in took
    lock: threading.Lock = field(default_factory=threading.Lock)

    def error(self, what: str, status: int | None = None) -> None:
        kind = what if status is None else f"{what} {status}"
        with self.lock:
            self.errors[kind] += 1
            if status is not None and status >= 500:
                self.server_errors += 1


class Browser:
    """One annotator's browser: a single HTTP/1.1 keep-alive connection and its
    cookies. http.client rather than requests, whose per-request overhead made
    the load generator, which shares the two cores with the server, a
    bottleneck of its own; redirects are left to the caller."""

    def __init__(self, host: str, port: int) -> None:
        self.connection = http.client.HTTPConnection(host, port, timeout=10)
        self.cookies: dict[str, str] = {}

    def send(self, method: str, path: str, form: dict[str, str] | None = None) -> Reply:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        response = None
        try:
            self.connection.request(method, path, body, headers)
            response = self.connection.getresponse()
            text = response.read().decode()
        except (OSError, http.client.HTTPException):
            # A half-read response keeps the socket open through its file
            # object; close both, and the next request opens a new connection.
            if response is not None:
                response.close()
            self.connection.close()
            raise
        for header in response.headers.get_all("Set-Cookie") or ():
            name, _, value = header.partition(";")[0].partition("=")
            if value:
                self.cookies[name] = value
            else:  # an emptied cookie is a deleted one
                self.cookies.pop(name, None)
        location = response.getheader("Location")
        return Reply(response.status, urlsplit(location).path if location else None, text)

    def close(self) -> None:
        self.connection.close()


@dataclass(frozen=True)
class Reply:
    status: int
    location: str | None  # the path a redirect leads to
    text: str


def log_in(browser: Browser, username: str, results: Results) -> bool:
    """Through the login form, as a person would."""
    try:
        page = browser.send("GET", "/login")
        token = CSRF_RE.search(page.text)
        if page.status != 200 or token is None:
            results.error("login page", page.status)
            return False
        reply = browser.send(
            "POST",
            "/login",
            {"csrf_token": token.group(1), "username": username, "password": PASSWORD},
        )
    except (OSError, http.client.HTTPException) as exc:
        results.error(f"login {type(exc).__name__}")
        return False
    if reply.status != 302:
        results.error("login", reply.status)
    return reply.status == 302


def vote_form(page: str, choose) -> dict[str, str] | None:
    """What the annotate page's form sends: its own CSRF token and submission
    id, and one of the candidates; None for a page without that form."""
    token, submission = CSRF_RE.search(page), SUBMISSION_RE.search(page)
    candidates = CANDIDATE_RE.findall(page)
    if not (token and submission and candidates):
        return None
    return {
        "csrf_token": token.group(1),
        "synset": choose(candidates),
        "submission_id": submission.group(1),
        "comment": "",
    }


def annotator(
    browser: Browser,
    username: str,
    stop: threading.Event,
    results: Results,
    max_votes: int,
    counter: list[int],
    first_due: float,
    period: float,
) -> None:
    """Open the next class's annotate page, vote for one of its candidates,
    follow the redirect to the next class, repeat. With a `period`, the
    annotator votes at most once per period: it waits with the page open
    (thinking, as a person would) until its next vote is due, the first at
    `first_due`. A vote whose page came too late to keep that pace is sent at
    once and counted as late; the pace then starts again from there, as a
    person cannot vote on a page before seeing it. Without a period, it votes
    as soon as the page is there."""
    choose = random.Random(username).choice
    due = first_due
    path = "/next"
    while not stop.is_set() and path != "/done":  # /done: every class has their vote
        try:
            started = time.perf_counter()
            page = browser.send("GET", path)
            page_elapsed = time.perf_counter() - started
            if page.status == 302 and (
                page.location.startswith("/annotate/") or page.location == "/done"
            ):
                path = page.location  # from /next
                continue
            if page.status != 200:
                results.error("page", page.status)
                if page.status == 302:
                    return  # sent to the login page: the session is gone
                path = "/next"
                continue
            form = vote_form(page.text, choose)
            if form is None:
                results.error("page without the vote form")
                path = "/next"
                continue
            wait = due - time.perf_counter()
            late = bool(period) and wait < 0
            if stop.wait(wait):
                break
            started = time.perf_counter()
            due = max(due, started) + period
            reply = browser.send("POST", path, form)
            vote_elapsed = time.perf_counter() - started
        except (OSError, http.client.HTTPException) as exc:
            results.error(type(exc).__name__)
            path = "/next"
            stop.wait(0.05)
            continue
        if reply.status != 303:
            results.error("vote", reply.status)
            path = "/next"
            continue
        with results.lock:
            results.page_ms.append(page_elapsed * 1000)
            results.vote_ms.append(vote_elapsed * 1000)
            results.acknowledged.append(form["submission_id"])
            results.late_votes += late
            counter[0] += 1
            if counter[0] >= max_votes:
                stop.set()
        path = reply.location


def run_annotators(
    survey: Survey,
    names: list[str],
    seconds: float,
    max_votes: int,
    results: Results | None = None,
    during=None,
    pace: float = 0,
) -> tuple[Results, float]:
    """Log every annotator in, then run one thread per annotator until
    `seconds` pass or `max_votes` are in; `pace`: the votes per second each
    annotator offers (0: as many as the server answers). Logging in (a
    deliberately slow password hash) is done first, so that the time measured
    is voting only. `during(elapsed)` is called about every 0.1 s from the main
    thread while they vote."""
    results = results or Results()
    browsers = {name: Browser("127.0.0.1", survey.port) for name in names}
    logged_in: list[str] = []

    def log_in_one(name: str) -> None:
        if log_in(browsers[name], name, results):
            logged_in.append(name)

    started = time.monotonic()
    logins = [threading.Thread(target=log_in_one, args=(name,)) for name in names]
    for thread in logins:
        thread.start()
    for thread in logins:
        thread.join()
    results.login_s = time.monotonic() - started
    stop, counter = threading.Event(), [0]
    period = 1 / pace if pace else 0
    first_due = time.perf_counter()
    threads = [
        threading.Thread(
            target=annotator,
            daemon=True,
            args=(
                browsers[name],
                name,
                stop,
                results,
                max_votes,
                counter,
                first_due + period * number / len(logged_in),
                period,
            ),
        )
        for number, name in enumerate(logged_in)
    ]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    while not stop.is_set() and time.monotonic() - started < seconds:
        if during:
            during(time.monotonic() - started)
        time.sleep(0.1)
    stop.set()
    for thread in threads:
        thread.join(timeout=15)
    elapsed = time.monotonic() - started
    for browser in browsers.values():
        browser.close()
    return results, elapsed


# --- the server's CPU time -------------------------------------------------------------
# Seconds of CPU the server spends per vote (its page, the vote and the redirects), in
# the app's workers and in the PostgreSQL backends serving them: a figure that other
# load on the machine changes far less than the latencies, read from Linux's /proc
# (the database runs on this machine, as the load test assumes).
def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far; 0 for one that is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_processes(survey: Survey) -> dict[str, list[int]]:
    """The gunicorn workers' pids and, on PostgreSQL, those of the backends
    connected to the survey's database."""
    children = Path(f"/proc/{survey.process.pid}/task/{survey.process.pid}/children")
    processes = {"app": [int(pid) for pid in children.read_text().split()]}
    url = make_url(survey.database_url)
    if url.get_backend_name() == "postgresql":
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            rows = admin.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s", (url.database,)
            )
            processes["database"] = [pid for (pid,) in rows]
    return processes


def cpu_snapshot(survey: Survey) -> dict[str, dict[int, float]]:
    """CPU seconds so far of the server's processes and of this one, the simulated
    annotators ("client"), which share the machine's cores with the server."""
    processes = server_processes(survey) | {"client": [os.getpid()]}
    return {part: {pid: cpu_seconds(pid) for pid in pids} for part, pids in processes.items()}


def cpu_used(before: dict[str, dict[int, float]], after: dict[str, dict[int, float]]) -> dict:
    """CPU seconds per part between two snapshots; a process that started between
    them counts from 0, one that ended is not counted."""
    return {
        part: sum(seconds - before.get(part, {}).get(pid, 0.0) for pid, seconds in now.items())
        for part, now in after.items()
    }


# --- the check -------------------------------------------------------------------------
def column_of(database_url: str, query: str) -> list:
    """The first column of the rows `query` reads from the survey's database."""
    engine = engine_for(database_url)
    try:
        with engine.connect() as connection:
            return list(connection.execute(text(query)).scalars())
    finally:
        engine.dispose()


def stored_submissions(database_url: str) -> list[str]:
    return column_of(
        database_url, "SELECT submission_id FROM votes WHERE submission_id IS NOT NULL"
    )


def sqlite_integrity(database_url: str) -> str:
    with sqlite3.connect(make_url(database_url).database) as connection:
        return connection.execute("PRAGMA integrity_check").fetchone()[0]


def annotators_per_class(database_url: str) -> list[int]:
    """How many annotators voted on each class voted on."""
    return column_of(
        database_url, "SELECT count(DISTINCT annotator_id) FROM votes GROUP BY class_wnid"
    )


def verify(database_url: str, results: Results, most: int = DEFAULT_MAX_VOTES) -> dict[str, int]:
    """Acknowledged votes missing from the database, stored more than once, and
    stored without an acknowledgement (a reply lost on the way back); and the
    annotators' work beyond the queue's maximum per class (`most`, its MAX_VOTES):
    the votes a class took beyond it, and the most annotators on one class."""
    counts = Counter(stored_submissions(database_url))
    acknowledged = set(results.acknowledged)
    per_class = annotators_per_class(database_url)
    return {
        "classes_voted": len(per_class),
        "most_annotators_on_a_class": max(per_class, default=0),
        "max_votes": most,
        "votes_beyond_max": sum(max(n - most, 0) for n in per_class),
        "acknowledged": len(results.acknowledged),
        "lost": sum(1 for s in acknowledged if s not in counts),
        "duplicated": sum(1 for n in counts.values() if n > 1)
        + len(results.acknowledged)
        - len(acknowledged),
        "unacknowledged_stored": sum(1 for s in counts if s not in acknowledged),
    }


def report(
    name: str,
    results: Results,
    seconds: float,
    check: dict[str, int],
    annotators: int,
    pace: float,
    cpu: dict[str, float] | None = None,
) -> dict:
    votes = len(results.acknowledged)
    cpu_ms = {part: used * 1000 / votes for part, used in (cpu or {}).items() if votes}
    client_ms = cpu_ms.pop("client", None)
    figures = {
        "database": name,
        "offered_votes_per_s": annotators * pace or None,
        "votes_per_s": len(results.acknowledged) / seconds,
        "page_p50_ms": percentile(results.page_ms, 0.5),
        "page_p99_ms": percentile(results.page_ms, 0.99),
        "vote_p50_ms": percentile(results.vote_ms, 0.5),
        "vote_p99_ms": percentile(results.vote_ms, 0.99),
        "late_votes": results.late_votes,
        "errors": sum(results.errors.values()),
        "server_errors": results.server_errors,
        **{f"cpu_{part}_ms_per_vote": ms for part, ms in cpu_ms.items()},
        **({"cpu_client_ms_per_vote": client_ms} if client_ms is not None else {}),
        **check,
    }
    offered = (
        f"each offers {pace:g} votes/s, {annotators * pace:g} votes/s in all"
        if pace
        else "each votes as soon as its page is there (closed loop)"
    )
    print(
        f"[{name}] {annotators} annotators log in ({results.login_s:.1f} s, before the clock), "
        f"then open the annotate page (HTML) and post its form; {offered}"
    )
    print(
        f"[{name}] {figures['acknowledged']} votes in {seconds:.1f} s: "
        f"{figures['votes_per_s']:.0f} votes/s"
        + (f"; {results.late_votes} later than their annotator's pace" if pace else "")
    )
    print(
        f"[{name}] page p50 {figures['page_p50_ms']:.1f} ms, p99 {figures['page_p99_ms']:.1f} ms;"
        f" vote p50 {figures['vote_p50_ms']:.1f} ms, p99 {figures['vote_p99_ms']:.1f} ms"
    )
    print(
        f"[{name}] errors {figures['errors']} ({dict(results.errors) or 'none'}), 5xx "
        f"{figures['server_errors']}; lost {check['lost']}, duplicated {check['duplicated']}, "
        f"stored without acknowledgement {check['unacknowledged_stored']}"
    )
    print(
        f"[{name}] {check['classes_voted']} classes voted on, at most "
        f"{check['most_annotators_on_a_class']} annotators on one; "
        f"{check['votes_beyond_max']} votes beyond the queue's maximum of {check['max_votes']}"
    )
    if cpu_ms:
        print(
            f"[{name}] server CPU per vote (its page, the vote, the redirects): "
            + ", ".join(f"{part} {ms:.1f} ms" for part, ms in cpu_ms.items())
            + (f"; the simulated annotators' {client_ms:.1f} ms" if client_ms is not None else "")
        )
        figures["cpu_capacity_votes_per_s"] = capacity = cpu_capacity(cpu_ms, client_ms)
        print(
            f"[{name}] at that CPU per vote this machine's {os.cpu_count()} cores could take at "
            f"most {capacity:.0f} votes/s, server and annotators together: the machines of "
            "different runs differ most in this"
        )
    return figures


def cpu_capacity(cpu_ms: dict[str, float], client_ms: float | None) -> float:
    """The votes per second the machine's cores could take at all, each vote costing the
    server's CPU (`cpu_ms`, per part) and the simulated annotators' (`client_ms`), all of
    which run here: a rate offered near it queues."""
    per_vote = sum(cpu_ms.values()) + (client_ms or 0.0)
    return 1000 * (os.cpu_count() or 1) / per_vote


# --- databases -------------------------------------------------------------------------
@contextmanager
def fresh_database(database: str, prefix: str) -> Iterator[tuple[str, Path]]:
    """(URL, working folder) of a new, empty survey database ("sqlite": a file in the
    folder; "postgres": a database of its own on the local server), dropped with the
    folder afterwards."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        workdir = Path(tmp)
        if database == "sqlite":
            yield f"sqlite:///{workdir / 'survey.sqlite3'}", workdir
            return
        name = f"cil_load_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}", workdir
        finally:
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def hierarchy_file() -> Path:
    """The ImageNet-1k hierarchy: the app's own copy, built and saved there the first time."""
    path = ROOT / "instance" / "hierarchy.json"
    Hierarchy.load_or_build(path)
    return path


def run(
    database: str, annotators: int, seconds: float, max_votes: int, workers: int, pace: float = PACE
) -> dict:
    with fresh_database(database, "cil-load-") as (url, workdir):
        survey = Survey(url, workdir, hierarchy_file(), workers=workers)
        offered = min(max_votes, seconds * (annotators * pace or CLOSED_LOOP_VOTES_PER_S))
        classes = len(Hierarchy.load_or_build(survey.hierarchy_file).classes)
        survey.settings |= queue_that_outlasts(classes, offered)
        return measure(database, survey, survey.prepare(annotators), seconds, max_votes, pace)


def measure(
    database: str,
    survey: Survey,
    names: list[str],
    seconds: float,
    max_votes: int,
    pace: float = PACE,
) -> dict:
    """Serve the prepared `survey`, let the annotators `names` vote, stop the
    server, and check what was stored; the figures of `report`."""
    survey.start()
    before: list[dict] = []  # the CPU used by the time the annotators start voting

    def on_start(_elapsed: float) -> None:
        if not before:
            before.append(cpu_snapshot(survey))

    try:
        results, elapsed = run_annotators(
            survey, names, seconds, max_votes, pace=pace, during=on_start
        )
        cpu = cpu_used(before[0], cpu_snapshot(survey)) if before else None
    finally:
        survey.stop()
    url = survey.database_url
    most = int(survey.settings.get("CIL_MAX_VOTES", DEFAULT_MAX_VOTES))
    figures = report(database, results, elapsed, verify(url, results, most), len(names), pace, cpu)
    if database == "sqlite":
        figures["integrity"] = sqlite_integrity(url)
        print(f"[{database}] integrity check: {figures['integrity']}")
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="sqlite")
    parser.add_argument("--annotators", type=int, default=32, help="concurrent annotators")
    parser.add_argument("--seconds", type=float, default=60, help="how long to vote")
    parser.add_argument("--max-votes", type=int, default=100_000, help="stop after this many")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument(
        "--pace",
        type=float,
        default=PACE,
        help="votes per second each annotator offers at most; 0: vote again "
        "as soon as the next page is there (closed loop)",
    )
    parser.add_argument(
        "--short", action="store_true", help="a smoke run for CI: 8 annotators for 5 s"
    )
    args = parser.parse_args(argv)
    if args.short:
        args.annotators, args.seconds = 8, 5
    databases = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    failed = False
    for database in databases:
        figures = run(
            database, args.annotators, args.seconds, args.max_votes, args.workers, args.pace
        )
        failed |= bool(
            figures["lost"]
            or figures["duplicated"]
            or figures["server_errors"]
            or figures.get("integrity", "ok") != "ok"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
