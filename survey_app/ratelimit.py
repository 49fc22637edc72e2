"""Login rate limiting: failed attempts are counted in the database over a
sliding window, per (address, username) and per address, so that guessing a
password stays slow however many worker processes serve the app.

An attempt is written down (as a failure) and committed before the count is
read, so simultaneous attempts cannot all pass one check together: the k-th
attempt to commit sees at least k rows, and at most the limit go on to the
password check. The row is removed when the limit stops the attempt and, with
the address's other failures for the user, when the password is right.
"""

from __future__ import annotations

from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, func, insert, select

from survey_app.extensions import db
from survey_app.models import LoginFailure, utcnow


def _window_start():
    return utcnow() - timedelta(seconds=current_app.config["LOGIN_FAILURE_WINDOW_SECONDS"])


def _over_limit(username: str, remote_addr: str) -> bool:
    """True when the rows in the window, this attempt's included, exceed a limit."""
    recent = (
        select(func.count())
        .select_from(LoginFailure)
        .where(LoginFailure.remote_addr == remote_addr, LoginFailure.created_at > _window_start())
    )
    if db.session.scalar(recent) > current_app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"]:
        return True
    for_user = recent.where(LoginFailure.username == username)
    return db.session.scalar(for_user) > current_app.config["LOGIN_MAX_FAILURES"]


def start_attempt(username: str, remote_addr: str) -> bool:
    """Count an attempt as a failure until the password proves right; False
    when this address has failed too often, for this username or at all. Rows
    that left the window are forgotten on the way."""
    username, remote_addr = username[:64], remote_addr[:64]
    db.session.execute(delete(LoginFailure).where(LoginFailure.created_at <= _window_start()))
    attempt = db.session.scalar(
        insert(LoginFailure)
        .values(username=username, remote_addr=remote_addr, created_at=utcnow())
        .returning(LoginFailure.id)
    )
    db.session.commit()
    if not _over_limit(username, remote_addr):
        return True
    db.session.execute(delete(LoginFailure).where(LoginFailure.id == attempt))
    db.session.commit()
    return False


def clear_failures(username: str, remote_addr: str) -> None:
    """A successful login forgives this address's earlier typos for the user,
    and this attempt."""
    db.session.execute(
        delete(LoginFailure).where(
            LoginFailure.username == username[:64], LoginFailure.remote_addr == remote_addr[:64]
        )
    )
    db.session.commit()
