"""Accounts as plain functions, shared by the pages and the `flask` commands:
users with hashed passwords, one-time invitation tokens, and the signed link
that creates the first admin.

Only a token's SHA-256 is stored, so a copy of the database cannot be used to
accept an open invitation.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
from contextlib import contextmanager
from datetime import timedelta

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from survey_app.caches import kept
from survey_app.errors import SurveyError
from survey_app.extensions import db
from survey_app.models import Invitation, User, utcnow

ROLES = ("annotator", "admin")
# \Z, not $: `$` also matches before a final newline, and WTForms' Regexp
# validator uses re.match; code here uses fullmatch.
USERNAME_RE = re.compile(r"[A-Za-z0-9_.-]{2,64}\Z")
USERNAME_RULE = "2 to 64 letters, digits, '.', '_' or '-'"
SETUP_SALT = "cil-first-admin"


class AccountError(SurveyError, ValueError):
    """A request that cannot create or change an account; the message says why."""


# The most used passwords of 8 characters or more in public breach lists
# (shorter ones fail the length rule anyway); compared ignoring case. A short
# list against the guesses an attacker tries first, not a strength meter.
COMMON_PASSWORDS = frozenset(
    [
        "password",
        "12345678",
        "123456789",
        "1234567890",
        "12345678910",
        "123123123",
        "11111111",
        "00000000",
        "88888888",
        "87654321",
        "12341234",
        "11223344",
        "qwertyuiop",
        "qwerty123",
        "qwertyui",
        "1qaz2wsx",
        "zaq12wsx",
        "1q2w3e4r",
        "1q2w3e4r5t",
        "asdfghjkl",
        "asdfasdf",
        "abcd1234",
        "abc12345",
        "iloveyou",
        "password1",
        "password12",
        "password123",
        "passw0rd",
        "p@ssw0rd",
        "p@ssword",
        "sunshine",
        "princess",
        "football",
        "baseball",
        "basketball",
        "superman",
        "batman123",
        "welcome1",
        "welcome123",
        "trustno1",
        "letmein1",
        "letmein123",
        "changeme",
        "administrator",
        "admin123",
        "master123",
        "starwars",
        "whatever",
        "dragon12",
        "monkey123",
        "michael1",
        "computer",
        "internet",
        "q1w2e3r4",
        "a1b2c3d4",
    ]
)


def check_password(username: str, password: str) -> None:
    """The rules of a new password: long enough, not only blanks, not the
    username, not one of the commonest."""
    minimum = current_app.config["PASSWORD_MIN_LENGTH"]
    if len(password) < minimum:
        raise AccountError(f"a password has at least {minimum} characters")
    if not password.strip():
        raise AccountError("a password cannot be only spaces or other blanks")
    if password.lower() == username.lower():
        raise AccountError("a password cannot be the username")
    if password.lower() in COMMON_PASSWORDS:
        raise AccountError("this password is too common; choose another")


def check_new_credentials(username: str, password: str) -> None:
    if not USERNAME_RE.fullmatch(username):
        raise AccountError(f"a username has {USERNAME_RULE}")
    check_password(username, password)
    if find_user(username) is not None:
        raise AccountError(f"the username {username!r} is taken")


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")


def create_user(username: str, password: str, role: str = "annotator") -> User:
    """A new account, flushed to the session (the caller commits)."""
    _check_role(role)
    check_new_credentials(username, password)
    user = User(username=username, role=role, password_hash=hash_password(password))
    db.session.add(user)
    try:
        db.session.flush()
    except IntegrityError:  # the same name, registered a moment ago by another request
        db.session.rollback()
        raise AccountError(f"the username {username!r} is taken") from None
    return user


# --- password hashing, a bounded number at a time ---------------------------------------
_slots_lock = threading.Lock()


@contextmanager
def _hashing_slot():
    """Hold one of the process's PASSWORD_HASH_CONCURRENCY hashing slots: a
    hash is slow and large by design, so a crowd of logins queues here instead
    of taking the memory of as many hashes at once."""
    limit = current_app.config["PASSWORD_HASH_CONCURRENCY"]
    with _slots_lock:  # one semaphore, however many requests ask for it at once
        slots = kept("hash_slots", limit, lambda: threading.BoundedSemaphore(limit))
    with slots:
        yield


def hash_password(password: str) -> str:
    with _hashing_slot():
        return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def password_matches(stored: str, password: str) -> bool:
    with _hashing_slot():
        return check_password_hash(stored, password)


# What werkzeug writes for the methods this app is configured with
# (PASSWORD_HASH_METHOD): "scrypt:N:r:p$salt$hex", its default 32768:8:1, and
# "pbkdf2:HASH:ITERATIONS$salt$hex", its default sha256 at 1,000,000.
_HASH_RE = re.compile(
    r"(?:scrypt:(?P<n>\d{1,7}):(?P<r>\d{1,3}):(?P<p>\d{1,3})"
    r"|pbkdf2:(?P<name>[a-z0-9_]{1,16}):(?P<iterations>\d{1,8}))"
    r"\$[A-Za-z0-9]{1,64}\$(?P<digest>[0-9a-f]{1,256})\Z"
)
# Only those methods and parameters: werkzeug fails (500 at login) on others, such as
# a tiny N or a SHAKE digest, and a larger r or p makes each login take seconds.
# scrypt N from 2^14 to 2^16 (16 to 64 MiB), r 8, p 1: its 64-byte digest.
SCRYPT_N = (2**14, 2**15, 2**16)
PBKDF2_DIGESTS = {"sha256": 64, "sha512": 128}  # hex characters of each digest
PBKDF2_ITERATIONS = range(1_000, 1_000_001)


def valid_password_hash(value: str) -> bool:
    """Whether `value` is a hash this app writes, which werkzeug checks at a bounded
    cost: a hash from elsewhere (a restored dump) must not make a login fail with
    500, take a process's memory or seconds of its time."""
    parts = _HASH_RE.fullmatch(value)
    if parts is None:
        return False
    digest = len(parts["digest"])
    if parts["n"] is not None:
        n, r, p = int(parts["n"]), int(parts["r"]), int(parts["p"])
        return n in SCRYPT_N and (r, p) == (8, 1) and digest == 128
    return (
        PBKDF2_DIGESTS.get(parts["name"]) == digest
        and int(parts["iterations"]) in PBKDF2_ITERATIONS
    )


# What werkzeug 3.1 writes for a method given without its parameters.
_METHOD_DEFAULTS = {"scrypt": ("32768", "8", "1"), "pbkdf2": ("sha256", "1000000")}


def hash_method_problem(method: str) -> str | None:
    """Why PASSWORD_HASH_METHOD must not be used, for the error at start; None when it
    may. The app must write only hashes that `valid_password_hash` accepts, or its own
    dumps would not restore. Read from the method's text (werkzeug's defaults filled
    in), not by hashing, which costs a scrypt hash's 100 ms at every start."""
    name, *given = method.split(":")
    defaults = _METHOD_DEFAULTS.get(name, ())
    parameters = [*given, *defaults[len(given) :]] if name == "pbkdf2" else given or defaults
    digest = 128 if name == "scrypt" else PBKDF2_DIGESTS.get(parameters[0] if parameters else "")
    if digest and valid_password_hash(f"{':'.join((name, *parameters))}$salt${'0' * digest}"):
        return None
    return (
        f"CIL_PASSWORD_HASH_METHOD {method!r} writes hashes that this app does not restore: "
        f"use 'scrypt' (N from 16384 to 65536, r 8, p 1) or 'pbkdf2:sha256:ITERATIONS' "
        f"(sha256 or sha512, 1,000 to 1,000,000 iterations)"
    )


def find_user(username: str) -> User | None:
    """The account of this name, whatever its case ("Alice" is "alice")."""
    return db.session.scalar(select(User).where(func.lower(User.username) == username.lower()))


def authenticate(username: str, password: str) -> User | None:
    """The active user with this password, else None. A missing user costs a
    hash check too, so response times do not tell which usernames exist."""
    user = find_user(username)
    stored = user.password_hash if user is not None and user.password_hash else None
    if stored is None:
        password_matches(_dummy_hash(), password)
        return None
    if not password_matches(stored, password) or not user.active:
        return None
    return user


def _dummy_hash() -> str:
    return kept(
        "dummy_hash",
        current_app.config["PASSWORD_HASH_METHOD"],
        lambda: hash_password(secrets.token_hex(8)),
    )


def end_sessions(user_id: int) -> None:
    """End every session of the account at its next request, by raising its
    session generation (the caller commits)."""
    db.session.execute(
        update(User)
        .where(User.id == user_id)
        .values(session_generation=User.session_generation + 1)
    )


def change_password(user: User, current: str, new: str) -> None:
    """Set a new password when `current` is the account's password; every
    session of the account ends, so the caller starts a new one (and commits)."""
    if not user.password_hash or not password_matches(user.password_hash, current):
        raise AccountError("the current password is wrong")
    check_password(user.username, new)
    user.password_hash = hash_password(new)
    end_sessions(user.id)


def admin_exists() -> bool:
    return db.session.scalar(select(User.id).where(User.role == "admin").limit(1)) is not None


# --- invitations ----------------------------------------------------------------------
def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_invitation(
    role: str = "annotator", created_by: User | None = None, days: int | None = None
) -> str:
    """Store a new invitation and return its token, the only time it is known."""
    _check_role(role)
    days = current_app.config["INVITATION_DAYS"] if days is None else days
    token = secrets.token_urlsafe(32)
    db.session.add(
        Invitation(
            token_hash=_token_hash(token),
            role=role,
            created_by=created_by.id if created_by else None,
            expires_at=utcnow() + timedelta(days=days),
        )
    )
    db.session.commit()
    return token


def open_invitation(token: str) -> Invitation | None:
    """The unused, unexpired invitation with this token, else None."""
    if len(token) > 100:
        return None
    invitation = db.session.scalar(
        select(Invitation).where(Invitation.token_hash == _token_hash(token))
    )
    if invitation is None or invitation_status(invitation) != "open":
        return None
    return invitation


def accept_invitation(invitation: Invitation, username: str, password: str) -> User:
    """Create the invited account and use the invitation up, in one transaction;
    of two simultaneous acceptances only one succeeds."""
    user = create_user(username, password, invitation.role)
    claimed = db.session.execute(
        update(Invitation)
        .where(Invitation.id == invitation.id, Invitation.used_at.is_(None))
        .values(used_at=utcnow(), used_by=user.id)
    )
    if claimed.rowcount != 1:
        db.session.rollback()
        raise AccountError("this invitation has just been used")
    db.session.commit()
    return user


def revoke_invitation(invitation: Invitation) -> None:
    if invitation.used_at is None:
        invitation.expires_at = utcnow()
        db.session.commit()


def invitation_status(invitation: Invitation) -> str:
    if invitation.used_at is not None:
        return "used"
    if invitation.expires_at is not None and invitation.expires_at <= utcnow():
        return "expired"
    return "open"


# --- the first admin ------------------------------------------------------------------
def _setup_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SETUP_SALT)


def setup_token() -> str:
    """A signed token that creates an admin while none exists. It needs no row,
    so every worker process can print one; creating the admin uses them all up."""
    return _setup_serializer().dumps("first-admin")


def setup_token_valid(token: str) -> bool:
    try:
        _setup_serializer().loads(token, max_age=current_app.config["SETUP_LINK_MAX_AGE_SECONDS"])
    except BadSignature:
        return False
    return not admin_exists()
