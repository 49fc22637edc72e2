"""The first-admin link printed when the app starts without an admin, as
Jupyter prints its token link, so that `make run` leads a newcomer straight in;
and the address `flask run` serves on, kept for `flask invite`'s links."""

from __future__ import annotations

import os

import click
from flask import Flask, url_for
from sqlalchemy.exc import SQLAlchemyError

from survey_app.accounts import admin_exists, setup_token

UNKNOWN_ADDRESS = "http://HOST:PORT"
DEFAULT_ADDRESS = "http://127.0.0.1:5000"  # `flask run`'s and `make run`'s
ADDRESS_FILE = "served_address"  # under the instance folder


def _server_address() -> str | None:
    """Where the app is about to be served: the address under `flask run`,
    UNKNOWN_ADDRESS under a WSGI server such as gunicorn (no click command),
    and None when the app is loaded for another `flask` command (`setup`,
    `create-admin`), which should print no link."""
    context = click.get_current_context(silent=True)
    if context is None:
        return UNKNOWN_ADDRESS
    if context.info_name != "run":
        return None
    return (
        f"http://{context.params.get('host') or '127.0.0.1'}:{context.params.get('port') or 5000}"
    )


def remember_address(app: Flask, address: str) -> None:
    """Kept so that `flask invite`, run from another shell, prints links to where
    the app is served rather than to the default port."""
    with open(os.path.join(app.instance_path, ADDRESS_FILE), "w", encoding="utf-8") as file:
        file.write(address)


def served_address(app: Flask) -> str:
    """`BASE_URL` when set (CIL_BASE_URL), else the address `flask run` last served
    on, else DEFAULT_ADDRESS."""
    if app.config.get("BASE_URL"):
        return app.config["BASE_URL"]
    try:
        with open(os.path.join(app.instance_path, ADDRESS_FILE), encoding="utf-8") as file:
            return file.read().strip() or DEFAULT_ADDRESS
    except OSError:
        return DEFAULT_ADDRESS


def announce_setup_link(app: Flask) -> None:
    address = _server_address()
    if address is None:
        return
    if address != UNKNOWN_ADDRESS:
        remember_address(app, address)
    with app.app_context():
        try:
            if admin_exists():
                return
        except SQLAlchemyError:  # not migrated yet, or unreachable: the pages will say so
            return
    with app.test_request_context():
        path = url_for("auth.create_first_admin", token=setup_token())
    hours = app.config["SETUP_LINK_MAX_AGE_SECONDS"] // 3600
    where = " (HOST:PORT: where the app is served)" if address == UNKNOWN_ADDRESS else ""
    click.echo(
        f"\n    No admin account exists yet. Create the first one with this one-time link"
        f"{where},\n    valid for {hours} hours:\n\n        {address}{path}\n\n"
        "    or with `flask --app survey_app create-admin USERNAME`.\n",
        err=True,
    )
