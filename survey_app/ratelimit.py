"""Login rate limiting: failed attempts are counted in the database over a
sliding window, per (address, username) and per address, so that guessing a
password stays slow however many worker processes serve the app."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, func, select

from survey_app.extensions import db
from survey_app.models import LoginFailure, utcnow


def _window_start():
    return utcnow() - timedelta(seconds=current_app.config["LOGIN_FAILURE_WINDOW_SECONDS"])


def login_blocked(username: str, remote_addr: str) -> bool:
    """True when this address has failed too often, for this username or at all."""
    since = _window_start()
    recent = select(func.count()).select_from(LoginFailure).where(
        LoginFailure.remote_addr == remote_addr, LoginFailure.created_at > since)
    if db.session.scalar(recent) >= current_app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"]:
        return True
    for_user = recent.where(LoginFailure.username == username)
    return db.session.scalar(for_user) >= current_app.config["LOGIN_MAX_FAILURES"]


def record_failure(username: str, remote_addr: str) -> None:
    """Count one failure, and forget those that left the window."""
    db.session.execute(delete(LoginFailure).where(LoginFailure.created_at <= _window_start()))
    db.session.add(LoginFailure(username=username[:64], remote_addr=remote_addr[:64]))
    db.session.commit()


def clear_failures(username: str, remote_addr: str) -> None:
    """A successful login forgives this address's earlier typos for the user."""
    db.session.execute(delete(LoginFailure).where(LoginFailure.username == username,
                                                  LoginFailure.remote_addr == remote_addr))
    db.session.commit()
