"""Database helpers beyond the models: SQLite tuned for many writers, PostgreSQL's
plans made once per connection and its driver's parsing of our statements kept, a
rollback that survives a connection that is gone (error_pages.py answers 503 then),
Core statements on the session's connection, and the seeded hierarchy read back once
per process."""

from __future__ import annotations

import gc
import os
from pathlib import Path

from flask import Flask
from sqlalchemy import Result, Table, event, make_url
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from clustering.gcpause import collector_paused
from clustering.hierarchy import Hierarchy
from survey_app.caches import kept
from survey_app.errors import UnknownClass
from survey_app.extensions import db
from survey_app.hierarchy_snapshot import kept_hierarchy


def _tune_sqlite(dbapi_connection, _record) -> None:
    # WAL lets readers work during a write; busy_timeout makes concurrent writers
    # wait instead of failing; foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _tune_postgres(dbapi_connection, _record) -> None:
    # The app's statements are the same few, run thousands of times, each on rows found
    # by index whatever its parameters. PostgreSQL planned them anew at every execution
    # (its generic plan looked dearer than the custom ones), and planning cost more than
    # running: the queue's next class 0.9 ms of the server's CPU against 0.3 ms once
    # planned once per connection. Committed, as the pool rolls back what it returns.
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SET plan_cache_mode = force_generic_plan")
    dbapi_connection.commit()


# psycopg converts a statement's placeholders on every execution and keeps the
# conversion only for statements of up to 4,096 characters and 50 parameters. The
# vote's checks with where it leads (6.5 k characters, 47 parameters) and the annotate
# page's read where it prefetches (5.9 k, 51) were parsed anew every time, a regular
# expression run over the whole text: about 0.3 ms of CPU for the page's. The
# limits guard against caching one-off statements, which ours, built once at import,
# are not.
CACHED_STATEMENT_LENGTH = 16_384
CACHED_STATEMENT_PARAMS = 200


def _cache_long_statements() -> None:
    from psycopg import _queries

    _queries.MAX_CACHED_STATEMENT_LENGTH = max(
        _queries.MAX_CACHED_STATEMENT_LENGTH, CACHED_STATEMENT_LENGTH
    )
    _queries.MAX_CACHED_STATEMENT_PARAMS = max(
        _queries.MAX_CACHED_STATEMENT_PARAMS, CACHED_STATEMENT_PARAMS
    )


def _create_private(database: str | None) -> None:
    """Create the SQLite file readable by its owner only, before SQLite creates
    it readable by all: it holds password hashes. SQLite gives its WAL and
    shared-memory files the database file's permissions."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if path.parent.is_dir() and not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))


def init_database(app: Flask) -> None:
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    backend = url.get_backend_name()
    if backend == "sqlite":
        _create_private(url.database)
    if backend == "postgresql":
        _cache_long_statements()
    tune = {"sqlite": _tune_sqlite, "postgresql": _tune_postgres}.get(backend)
    if tune:
        with app.app_context():
            engine: Engine = db.engine
            event.listen(engine, "connect", tune)


def safe_rollback() -> None:
    """Roll the session back after a database error, even when its connection is gone."""
    try:
        db.session.rollback()
    except SQLAlchemyError:
        pass  # the connection is gone; the pool replaces it on the next request


def execute(statement, **params) -> Result:
    """Run a Core statement built once at import, on the session's connection and
    in its transaction: on the busiest paths (votes.py, work_queue.py) the ORM's
    per-statement cost was more than the database's."""
    return db.session.connection().execute(statement, params)


def upserts(table: Table, values: dict, key: str) -> dict:
    """dialect name -> the statement that writes `values` (column -> value or bind
    parameter) as `table`'s row, or over the row of the same `key` (its primary key)
    where one exists: in one statement, whoever inserts it first. Both databases say so
    alike, in their own dialect's construct."""
    statements = {}
    for dialect in (postgresql, sqlite):
        insert = dialect.insert(table).values(values)
        statements[dialect.dialect.name] = insert.on_conflict_do_update(
            index_elements=[table.c[key]],
            set_={name: insert.excluded[name] for name in values if name != key},
        )
    return statements


def read_without_transaction() -> None:
    """Run the session's next statements each on its own, outside a transaction, until
    it commits or closes: on PostgreSQL a transaction costs two round trips (BEGIN, then
    COMMIT or ROLLBACK), as many as a page's own reads. For reads only, each of which is
    consistent by itself; a session already in a transaction keeps it. SQLite's driver
    begins no transaction for reads, and is left as it is."""
    session = db.session()
    if not session.in_transaction() and session.get_bind().dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


def hierarchy_from_db() -> Hierarchy:
    """The seeded Hierarchy (`clustering.dbread`, which the `--db` path of the
    clustering job uses too), read once per process: the app never loads
    WordNet at request time."""
    return kept("hierarchy", None, _read_and_freeze)


def _read_and_freeze() -> Hierarchy:
    """The hierarchy, moved out of the garbage collector's reach (`gc.freeze`), with
    every object alive: it lives as long as the process, and at ImageNet-21k's size
    each full collection walked its millions of objects, a pause of up to 200 ms in
    whichever request set it off (a page's p99 grew with the class count). Loaded where
    a process kept it (`survey_app.hierarchy_snapshot`). The garbage made before is
    collected first; reading makes no cyclic garbage (none found at 21,843 classes), so
    it is frozen without the pass over it that took 0.3 s of CPU."""
    gc.collect()
    with collector_paused():
        connection = db.session.connection()
        hierarchy = kept_hierarchy(connection)
        gc.freeze()
    return hierarchy


def require_class(class_wnid: str) -> None:
    """Raise UnknownClass (a 404 for pages and the API) for a wnid that is not a
    class of the survey."""
    if class_wnid not in hierarchy_from_db().class_index:
        raise UnknownClass(f"{class_wnid!r} is not a class of this survey")
