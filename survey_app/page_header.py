"""The header of every page: the logged-in user and their progress."""

from __future__ import annotations

from flask import Flask
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError

from survey_app import work_queue
from survey_app.database import safe_rollback


def navigation() -> dict:
    """The logged-in user and their progress for the header of every page. An
    error page for an unreachable database renders too: without them."""
    try:
        if current_user.is_authenticated:
            return {"nav_user": current_user, "progress": work_queue.progress(current_user.id)}
    except SQLAlchemyError:
        safe_rollback()
    return {"nav_user": None, "progress": None}


def init_app(app: Flask) -> None:
    app.context_processor(navigation)
