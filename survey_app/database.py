"""Database behaviour beyond the models: SQLite tuned for many writers, and a
rollback that survives a connection that is gone (errors.py answers 503 then)."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import event
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


def init_database(app: Flask) -> None:
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        with app.app_context():
            engine: Engine = db.engine
            event.listen(engine, "connect", _tune_sqlite)


def safe_rollback() -> None:
    """Roll the session back after a database error, even when its connection is gone."""
    try:
        db.session.rollback()
    except SQLAlchemyError:
        pass  # the connection is gone; the pool replaces it on the next request
