"""Error answers: a page for people, JSON under /api/. Every HTTP error the
app raises (400, 401, 403, 404, 405, 429, a missing CSRF token) goes through here."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

CSRF_MESSAGE = ("The form was missing its security token or the token did not match "
                "(for example after logging in elsewhere). Reload the page and try again.")


def _answer(code: int, name: str, message: str):
    if request.path.startswith("/api/"):
        return jsonify(error=message, status=code), code
    return render_template("error.html", code=code, title=name, message=message), code


def handle_http_error(error: HTTPException):
    return _answer(error.code or 500, error.name, error.description or error.name)


def handle_csrf_error(error: CSRFError):
    return _answer(400, "Bad request", CSRF_MESSAGE if not request.path.startswith("/api/")
                   else f"{error.description} Send the token from GET /api/me in an "
                        "X-CSRFToken header.")


def init_app(app: Flask) -> None:
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(HTTPException, handle_http_error)
