"""Security headers on every response, and JSON bodies read without a crash.
The pages load scripts, styles and pictures only from the app itself and run
no inline script, so the content security policy can forbid everything else."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response
from flask.json.provider import DefaultJSONProvider
from werkzeug.serving import WSGIRequestHandler

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # Invitation links carry their token in the path: never send it to another site.
    "Referrer-Policy": "same-origin",
}


def set_security_headers(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    return response


class JSONProvider(DefaultJSONProvider):
    """Flask's JSON, but a body nested too deeply for the parser's recursion
    ("[" * 100000) is malformed JSON (400), not a RecursionError (500)."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("the JSON is nested too deeply") from None


# What Werkzeug's development server (`flask run`, `make run`) says in its
# Server header instead of its and Python's versions, which tell an attacker
# which known flaws to try. It has no setting for it, and a Server header set by
# the app would be sent besides its own. (gunicorn says "gunicorn", no version.)
SERVER_NAME = "cil-survey"


def _unversioned(_handler: WSGIRequestHandler) -> str:
    return SERVER_NAME


def init_app(app: Flask) -> None:
    WSGIRequestHandler.version_string = _unversioned
    app.json = JSONProvider(app)
    app.after_request(set_security_headers)
