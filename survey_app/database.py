"""Database behaviour beyond the models: SQLite tuned for many writers, and a
rollback that survives a connection that is gone (errors.py answers 503 then)."""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask
from sqlalchemy import event, make_url
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from survey_app.extensions import db


def _tune_sqlite(dbapi_connection, _record) -> None:
    # WAL lets readers work during a write; busy_timeout makes concurrent writers
    # wait instead of failing; foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


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
    if url.get_backend_name() == "sqlite":
        _create_private(url.database)
        with app.app_context():
            engine: Engine = db.engine
            event.listen(engine, "connect", _tune_sqlite)


def safe_rollback() -> None:
    """Roll the session back after a database error, even when its connection is gone."""
    try:
        db.session.rollback()
    except SQLAlchemyError:
        pass  # the connection is gone; the pool replaces it on the next request
