"""`flask create-admin` and `flask invite`: accounts from the shell, for the
first admin and for admins who prefer a terminal."""

from __future__ import annotations

import click
from flask import Blueprint, current_app, url_for
from sqlalchemy.exc import SQLAlchemyError

from survey_app import accounts
from survey_app.extensions import db
from survey_app.startup import served_address

bp = Blueprint("account_commands", __name__, cli_group=None)


@bp.cli.command("create-admin")
@click.argument("username")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              envvar="CIL_ADMIN_PASSWORD",
              help="asked for when not given (or set CIL_ADMIN_PASSWORD)")
def create_admin_command(username: str, password: str) -> None:
    """Create an admin account."""
    try:
        accounts.create_user(username, password, "admin")
        db.session.commit()
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc)) from None
    except SQLAlchemyError as exc:
        raise click.ClickException(f"the database is not ready ({exc.__class__.__name__}); "
                                   "run `flask --app survey_app setup` first") from None
    click.echo(f"Admin {username} created; log in at /login.")


@bp.cli.command("invite")
@click.option("--role", type=click.Choice(accounts.ROLES), default="annotator", show_default=True)
@click.option("--days", type=click.IntRange(min=1), default=None,
              help="days the link stays valid (default: INVITATION_DAYS, 7)")
@click.option("--base-url", default=None,
              help="the address annotators open the app at (default: CIL_BASE_URL, else "
                   "where `flask run` last served the app, else http://127.0.0.1:5000)")
def invite_command(role: str, days: int | None, base_url: str | None) -> None:
    """Print a one-time invitation link."""
    token = accounts.create_invitation(role, days=days)
    with current_app.test_request_context():
        path = url_for("auth.accept_invitation", token=token)
    click.echo(f"{(base_url or served_address(current_app)).rstrip('/')}{path}")
