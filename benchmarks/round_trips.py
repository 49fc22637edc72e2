"""How often the annotate page and the vote wait on the database: statements per
request (SQLAlchemy's events) on SQLite and PostgreSQL, and on PostgreSQL the
round trips (each answer that ends with libpq's ReadyForQuery, in its protocol
trace: a statement, and psycopg's BEGIN, COMMIT and ROLLBACK). Counts, not
times, so they hold on a busy machine; tests/survey_app/test_round_trips.py
keeps the statement counts from growing.

Two annotators on a fresh ImageNet-1k survey take turns voting through the app's
own pages in one process (Flask's test client), the first votes skipped as the
process builds what it keeps.

    .venv/bin/python benchmarks/round_trips.py --database both --cycles 20
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
from pathlib import Path

from sqlalchemy import event

from benchmarks.load_votes import (
    CSRF_RE,
    PASSWORD,
    Survey,
    fresh_database,
    hierarchy_file,
    vote_form,
)

WARM_CYCLES = 4  # per annotator: the process's kept values are built during these


def count(database: str, cycles: int) -> dict[str, list[tuple[int, int | None]]]:
    """(statements, round trips or None on SQLite) per page and per vote."""
    with fresh_database(database, "cil-round-trips-") as (url, workdir):
        survey = Survey(url, workdir, hierarchy_file())
        names = survey.prepare(2)
        os.environ.update(survey.env)
        return _walk(names, cycles, workdir / "libpq-trace.txt", database == "postgres")


def _walk(names: list[str], cycles: int, trace: Path, postgres: bool) -> dict:
    from survey_app import create_app  # after the survey's settings are in the environment
    from survey_app.extensions import db

    app = create_app()
    statements: list[str] = []
    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    sink = trace.open("a")
    connections = []  # psycopg's, each tracing its protocol into `trace`
    if postgres:

        def traced(dbapi_connection, _record) -> None:
            connections.append(dbapi_connection)
            dbapi_connection.pgconn.trace(os.dup(sink.fileno()))

        event.listen(engine, "connect", traced)
        engine.dispose()  # the connection opened at start (the setup link's check) untraced
    clients = [_logged_in(app, name) for name in names]
    choose = random.Random(0).choice
    paths = ["/next"] * len(clients)
    counts: dict[str, list[tuple[int, int | None]]] = {"page": [], "vote": []}

    def measured(kind: str, send, *args, **kwargs):
        statements.clear()
        start = trace.stat().st_size
        reply = send(*args, **kwargs)
        for connection in connections:  # libpq writes its trace through a buffer of its own
            connection.pgconn.untrace()
            connection.pgconn.trace(os.dup(sink.fileno()))
        with trace.open() as log:
            log.seek(start)
            trips = sum("\tReadyForQuery" in line for line in log) if postgres else None
        counts[kind].append((len(statements), trips))
        return reply

    for number in range((WARM_CYCLES + cycles) * len(clients)):
        turn = number % len(clients)
        client, path = clients[turn], paths[turn]
        if path == "/next":
            path = client.get(path).headers["Location"]
        page = measured("page", client.get, path)
        form = vote_form(page.text, choose)
        reply = measured("vote", client.post, path, data=form)
        if reply.status_code != 303:
            raise RuntimeError(f"the vote on {path} was answered {reply.status_code}")
        paths[turn] = reply.headers["Location"]
    with app.app_context():
        db.engine.dispose()
    sink.close()
    skip = WARM_CYCLES * len(clients)
    return {kind: values[skip:] for kind, values in counts.items()}


def _logged_in(app, name: str):
    client = app.test_client()
    token = CSRF_RE.search(client.get("/login").text).group(1)
    reply = client.post(
        "/login", data={"csrf_token": token, "username": name, "password": PASSWORD}
    )
    if reply.status_code != 302:
        raise RuntimeError(f"{name} could not log in ({reply.status_code})")
    return client


def summary(values: list[int]) -> str:
    return f"median {statistics.median(values):g}, max {max(values)}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--cycles", type=int, default=20, help="pages and votes per annotator")
    args = parser.parse_args(argv)
    databases = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    for database in databases:
        for kind, values in count(database, args.cycles).items():
            line = f"[{database}] {kind}: statements {summary([s for s, _ in values])}"
            if database == "postgres":
                line += f"; round trips {summary([t for _, t in values])}"
            print(f"{line} ({len(values)} requests)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
