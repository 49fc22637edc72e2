"""Logging in and out, accepting an invitation, creating the first admin, and
`admin_required` for the admin pages.

Flask-Login keeps the user id in Flask's signed session cookie. At login the
session is cleared first, so nothing set before (a CSRF token, a planted
value) survives into the logged-in session.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    abort,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface
from flask_login import UserMixin, current_user, login_required, login_user, logout_user
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import bindparam, select

from survey_app import accounts, ratelimit
from survey_app.caches import caches
from survey_app.database import execute
from survey_app.extensions import db, login_manager
from survey_app.forms import AccountForm, LoginForm, PasswordForm, add_error
from survey_app.models import User

bp = Blueprint("auth", __name__)
TOO_MANY_ATTEMPTS = "Too many failed attempts; wait a few minutes and try again."


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie sessions, with one signing serializer per app and
    set of keys: Flask builds a new one for every request, and again for every
    changed session, which cost more than the signing itself."""

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        keys = (app.secret_key, *(app.config["SECRET_KEY_FALLBACKS"] or ()))
        build = super().get_signing_serializer
        return caches(app).get("session_serializer", keys, lambda: build(app))


def init_app(app: Flask) -> None:
    app.session_interface = SessionInterface()
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please log in to see this page."
    login_manager.login_message_category = "info"


@dataclass(frozen=True)
class SessionUser(UserMixin):
    """The logged-in account as later requests see it (`current_user`): read
    with one Core query on every request. Loaded into the ORM session instead,
    it cost several times that query, and again after every commit, which
    expired it. Pages and the API use only these attributes; the request that
    logs in sees the `User` it logged in."""

    id: int
    username: str
    role: str
    session_generation: int

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def get_id(self) -> str:
        return f"{self.id}.{self.session_generation}"


_users = User.__table__
_ACTIVE_USER = select(
    _users.c.id, _users.c.username, _users.c.role, _users.c.session_generation
).where(
    _users.c.id == bindparam("user_id"),
    _users.c.active.is_(True),
    _users.c.session_generation == bindparam("generation"),
)


@login_manager.user_loader
def load_user(session_id: str) -> SessionUser | None:
    """The active account whose session generation is still the one the session
    was started under (`User.get_id`), else None: the session has ended. The
    generation rides in the query that was already made for the account, so
    the check costs no extra query."""
    user_id, _, generation = session_id.partition(".")
    if not (user_id.isdecimal() and generation.isdecimal()):
        return None
    row = execute(_ACTIVE_USER, user_id=int(user_id), generation=int(generation)).first()
    return SessionUser(*row) if row else None


@login_manager.unauthorized_handler
def unauthorized():
    if request.blueprint == "api":
        abort(
            401, description="log in first: POST the form at /login, then send the session cookie"
        )
    flash(login_manager.login_message, login_manager.login_message_category)
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def admin_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Anonymous visitors are sent to the login page; annotators get 403. Every
    method is checked: Flask-Login's `login_required` lets OPTIONS through
    (for CORS preflight), which then met the anonymous user's missing `is_admin`."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        if not current_user.is_admin:
            abort(403, description="This page is for admins.")
        return view(*args, **kwargs)

    return wrapped


def start_session(user: User) -> None:
    session.clear()
    login_user(user)


def landing_url(user: User) -> str:
    return url_for("admin.index") if user.is_admin else url_for("annotate.next_class")


def _safe_next(target: str | None) -> str | None:
    """Only a path on this site: an absolute or scheme-relative URL would make
    the login page an open redirect, and a control character a broken header."""
    if (
        not target
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or not target.isprintable()
    ):
        return None
    try:
        parts = urlsplit(target)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return None
    return None if parts.scheme or parts.netloc else target


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Log in; failed attempts are limited per account and per address."""
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        # One account whatever the case, so one count of failures too.
        username, address = form.username.data.lower(), request.remote_addr or "unknown"
        if not ratelimit.start_attempt(username, address):
            form.form_errors.append(TOO_MANY_ATTEMPTS)
            status = 429
        else:
            user = accounts.authenticate(username, form.password.data)
            if user is None:
                form.form_errors.append("Wrong username or password.")
                status = 401
            else:
                ratelimit.clear_failures(username, address)
                start_session(user)
                return redirect(_safe_next(request.args.get("next")) or landing_url(user))
    elif form.is_submitted():
        status = 400
    return render_template("login.html", form=form), status


@bp.post("/logout")
def logout():
    """Ends every session of the account, not only this browser's: a copy of
    the cookie (signed, so valid until it expires) must not outlive a logout."""
    if current_user.is_authenticated:
        accounts.end_sessions(current_user.id)
        db.session.commit()
    logout_user()
    session.clear()
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))


@bp.get("/account")
@login_required
def account():
    """The logged-in user's account page: change the password."""
    return render_template("account.html", form=PasswordForm())


@bp.post("/account/password")
@login_required
def change_password():
    """A new password ends every session of the account; this browser gets a new one."""
    form = PasswordForm()
    status = 400
    if form.validate():
        user = db.session.get(User, current_user.id)
        try:  # a refused new password is not a guess of the current one
            accounts.check_password(user.username, form.password.data)
        except accounts.AccountError as exc:
            add_error(form, exc)
        else:
            status = _change_password(form, user)
            if status is None:
                flash("Your password is changed; your other sessions have ended.", "info")
                return redirect(url_for("auth.account"), code=303)
    return render_template("account.html", form=form), status


def _change_password(form: PasswordForm, user: User) -> int | None:
    """None when the password is changed, else the status of the page that says
    why. The current password is guessed no faster here than at the login form."""
    key, address = user.username.lower(), request.remote_addr or "unknown"
    if not ratelimit.start_attempt(key, address):
        form.form_errors.append(TOO_MANY_ATTEMPTS)
        return 429
    try:
        accounts.change_password(user, form.current.data, form.password.data)
    except accounts.AccountError as exc:
        add_error(form, exc)
        return 400
    db.session.commit()
    ratelimit.clear_failures(key, address)
    start_session(user)
    return None


def _account_form_page(title: str, intro: str, role: str, create: Callable[[str, str], User]):
    """The shared flow of the invitation and first-admin pages."""
    form = AccountForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = create(form.username.data, form.password.data)
        except accounts.AccountError as exc:
            add_error(form, exc)
            status = 400
        else:
            start_session(user)
            flash(f"Welcome, {user.username}.", "info")
            return redirect(landing_url(user))
    elif form.is_submitted():
        status = 400
    return render_template(
        "account_form.html", form=form, title=title, intro=intro, role=role
    ), status


@bp.route("/invite/<token>", methods=["GET", "POST"])
def accept_invitation(token: str):
    """Choose a username and password with a one-time invitation link."""
    invitation = accounts.open_invitation(token)
    if invitation is None:
        abort(
            404,
            description="This invitation link is not valid: it was used, it expired, "
            "or it was copied incompletely. Ask an admin for a new one.",
        )
    return _account_form_page(
        "Join the survey",
        "Choose a username and a password for your account.",
        invitation.role,
        lambda username, password: accounts.accept_invitation(invitation, username, password),
    )


@bp.route("/setup/<token>", methods=["GET", "POST"])
def create_first_admin(token: str):
    """Create the first admin with the link printed when the app starts without one."""
    if not accounts.setup_token_valid(token):
        abort(
            404,
            description="This setup link is not valid: an admin exists already, or the "
            "link expired. Restart the app for a new one, or use "
            "`flask create-admin`.",
        )

    def create(username: str, password: str) -> User:
        user = accounts.create_user(username, password, "admin")
        db.session.commit()
        return user

    return _account_form_page(
        "Create the first admin",
        "This one-time link creates the survey's first admin account.",
        "admin",
        create,
    )
