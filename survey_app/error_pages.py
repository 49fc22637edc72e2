"""Error answers: a page for people, JSON under /api/. Every HTTP error the
app raises (400, 401, 403, 404, 405, 429, a missing CSRF token), a class that
is not in the survey (404) and an unreachable database (503) go through here."""

from __future__ import annotations

from flask import Flask, current_app, g, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, NotFound, ServiceUnavailable
from werkzeug.http import HTTP_STATUS_CODES

from survey_app.database import safe_rollback
from survey_app.errors import UnknownClass
from survey_app.extensions import login_manager

CSRF_MESSAGE = (
    "The form was missing its security token or the token did not match "
    "(for example after logging in elsewhere). Reload the page and try again."
)
DATABASE_MESSAGE = "The database is not reachable right now. Please try again in a minute."


def _for_api() -> bool:
    return request.path.startswith("/api/")


def _answer(code: int, name: str, message: str):
    """`name` from an exception instance or HTTP_STATUS_CODES: on the class,
    werkzeug's `name` is a property object, not a string."""
    if _for_api():
        return jsonify(error=message, status=code), code
    return render_template("error.html", code=code, title=name, message=message), code


def handle_http_error(error: HTTPException):
    return _answer(error.code or 500, error.name, error.description or error.name)


def handle_csrf_error(error: CSRFError):
    return _answer(
        400,
        "Bad request",
        CSRF_MESSAGE
        if not _for_api()
        else f"{error.description} Send the token from GET /api/me in an X-CSRFToken header.",
    )


def handle_unknown_class(error: UnknownClass):
    message = str(error)
    return _answer(
        NotFound.code, HTTP_STATUS_CODES[NotFound.code], message if _for_api() else f"{message}."
    )


def handle_database_error(error: OperationalError):
    safe_rollback()
    current_app.logger.error("database error: %s", error)
    if "_login_user" not in g:
        # Loading the logged-in user failed: the page is rendered for no user, as
        # Flask-Login's template context would otherwise ask the database again.
        login_manager._update_request_context_with_user()
    if request.path == "/health":  # what load balancers and docker-compose read
        return jsonify(status="unavailable", error=DATABASE_MESSAGE), ServiceUnavailable.code
    return _answer(
        ServiceUnavailable.code, HTTP_STATUS_CODES[ServiceUnavailable.code], DATABASE_MESSAGE
    )


def init_app(app: Flask) -> None:
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(UnknownClass, handle_unknown_class)
    app.register_error_handler(OperationalError, handle_database_error)
