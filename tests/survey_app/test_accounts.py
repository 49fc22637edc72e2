"""Accounts: the first admin, invitations, logging in and out, the rate limit,
CSRF and the security headers."""

import http.client
import re
from datetime import timedelta

import click
import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import func, inspect, select, text

from survey_app import accounts, startup
from survey_app.extensions import db
from survey_app.models import Invitation, LoginFailure, User, utcnow

from .conftest import (
    PASSWORD,
    account_form,
    add_user,
    csrf_token,
    log_in,
    make_app,
    post_login,
    serving,
)


def users(app) -> dict[str, str]:
    with app.app_context():
        return {u.username: u.role for u in db.session.scalars(select(User))}


# --- the first admin ------------------------------------------------------------------
def test_create_admin_command_hashes_with_scrypt(tmp_path, small_hierarchy):
    app = make_app(tmp_path, PASSWORD_HASH_METHOD="scrypt")
    with app.app_context():
        upgrade()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["create-admin", "root"], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = db.session.scalar(select(User))
        assert (user.username, user.role) == ("root", "admin")
        assert user.password_hash.startswith("scrypt:") and PASSWORD not in user.password_hash
    again = runner.invoke(args=["create-admin", "root", "--password", PASSWORD])
    assert again.exit_code == 1 and "taken" in again.output
    short = runner.invoke(args=["create-admin", "other", "--password", "short"])
    assert short.exit_code == 1 and "at least 8 characters" in short.output


def test_create_admin_before_setup_says_what_to_do(tmp_path):
    result = (
        make_app(tmp_path)
        .test_cli_runner()
        .invoke(args=["create-admin", "root", "--password", PASSWORD])
    )
    assert result.exit_code == 1 and "flask --app survey_app setup" in result.output
    assert "Traceback" not in result.output


def announced_link(app, capsys) -> str | None:
    startup.announce_setup_link(app)
    found = re.search(r"(\S*/setup/\S+)", capsys.readouterr().err)
    return found.group(1) if found else None


def test_setup_link_creates_the_first_admin_once(app, capsys):
    # Under a WSGI server there is no click command: the link comes without the address.
    link = announced_link(app, capsys)
    assert link.startswith("http://HOST:PORT/setup/")
    path = link.removeprefix("http://HOST:PORT")
    client = app.test_client()
    assert client.get(path).status_code == 200
    response = account_form(client, path, "first")
    assert response.status_code == 302 and response.location == "/admin/"
    assert users(app) == {"first": "admin"}
    assert client.get("/admin/").status_code == 200
    # Used up: a second visit, or any other printed link, no longer works.
    assert app.test_client().get(path).status_code == 404
    assert announced_link(app, capsys) is None


def test_setup_link_under_flask_run_and_not_for_other_commands(app, capsys):
    run = click.Command("run", params=[click.Option(["--host"]), click.Option(["--port"])])
    with click.Context(run, info_name="run") as context:
        context.params.update(host="127.0.0.1", port=5077)
        assert announced_link(app, capsys).startswith("http://127.0.0.1:5077/setup/")
    with click.Context(click.Command("setup"), info_name="setup"):
        assert announced_link(app, capsys) is None


def test_setup_link_refuses_a_forged_token(client):
    assert client.get("/setup/not-a-token").status_code == 404
    assert client.post("/setup/not-a-token").status_code in {400, 404}


def test_startup_prints_no_link_before_migrations(tmp_path, capsys):
    assert announced_link(make_app(tmp_path), capsys) is None


# --- invitations ----------------------------------------------------------------------
def test_invitation_creates_an_account_once(app, client):
    with app.app_context():
        token = accounts.create_invitation("annotator")
        stored = db.session.scalar(select(Invitation))
        assert token not in stored.token_hash  # only the hash is kept
    response = account_form(client, f"/invite/{token}", "newbie")
    assert response.status_code == 302 and response.location == "/next"
    assert users(app) == {"newbie": "annotator"}
    assert client.get("/next").status_code == 302  # logged in
    assert app.test_client().get(f"/invite/{token}").status_code == 404


def test_invitation_refuses_bad_accounts_and_stays_open(app, client):
    add_user(app, "taken")
    with app.app_context():
        token = accounts.create_invitation()
    path = f"/invite/{token}"
    assert account_form(client, path, "taken").status_code == 400
    assert account_form(client, path, "bad name!").status_code == 400
    assert account_form(client, path, "okname", password="short").status_code == 400
    assert account_form(client, path, "okname", confirm="different pw").status_code == 400
    assert set(users(app)) == {"taken"}
    assert client.get(path).status_code == 200  # still usable


def test_expired_and_revoked_invitations_are_refused(app, client):
    with app.app_context():
        expired = accounts.create_invitation(days=0)
        revoked = accounts.create_invitation()
        invitation = db.session.scalars(select(Invitation).order_by(Invitation.id)).all()[-1]
        accounts.revoke_invitation(invitation)
    assert client.get(f"/invite/{expired}").status_code == 404
    assert client.get(f"/invite/{revoked}").status_code == 404
    assert client.get("/invite/" + "x" * 300).status_code == 404


def test_invite_command_prints_a_working_link(app, runner):
    result = runner.invoke(args=["invite", "--role", "admin", "--base-url", "http://cil.example"])
    assert result.exit_code == 0, result.output
    link = result.output.strip()
    assert link.startswith("http://cil.example/invite/")
    client = app.test_client()
    assert (
        account_form(client, link.removeprefix("http://cil.example"), "deputy").status_code == 302
    )
    assert users(app) == {"deputy": "admin"}


# --- logging in and out ---------------------------------------------------------------
def test_login_and_logout(app, client):
    add_user(app, "ann")
    assert client.get("/").status_code == 302
    response = post_login(client, "ann", next="/annotate/n01443537")
    assert response.status_code == 302 and response.location == "/annotate/n01443537"
    assert client.get("/").status_code == 200
    token = csrf_token(client, "/")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/").status_code == 302


def test_login_refuses_wrong_password_and_inactive_users(app, client):
    add_user(app, "ann")
    response = post_login(client, "ann", "wrong password")
    assert response.status_code == 401 and "Wrong username or password" in response.text
    assert post_login(client, "nobody").status_code == 401
    assert post_login(client, "no\x00body").status_code == 400  # no account has that shape
    with app.app_context():
        db.session.scalar(select(User).where(User.username == "ann")).active = False
        db.session.commit()
    assert post_login(client, "ann").status_code == 401


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/x",
        "https://evil.example/",
        "\\\\evil",
        "x",
        "http://[::1",
        "/ok\r\nSet-Cookie: a=b",
    ],
)
def test_login_never_redirects_off_site(app, client, target):
    add_user(app, "ann")
    assert post_login(client, "ann", next=target).location == "/next"


def test_session_is_new_after_login(app, client):
    add_user(app, "ann")
    before = csrf_token(client)
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
    assert post_login(client, "ann").status_code == 302
    with client.session_transaction() as session:
        assert "planted" not in session and session["_user_id"]
    # A token from before the login belongs to the old session and is refused.
    response = client.post(
        "/annotate/n01440764", data={"csrf_token": before, "synset": "n01440764"}
    )
    assert response.status_code == 400


def test_login_attempts_are_rate_limited(app, client):
    add_user(app, "ann")
    add_user(app, "bob")
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        assert post_login(client, "ann", "guess").status_code == 401
    blocked = post_login(client, "ann")  # even the right password, for a while
    assert blocked.status_code == 429 and "Too many failed attempts" in blocked.text
    assert post_login(client, "bob").status_code == 302  # another user is not locked out
    with app.app_context():
        db.session.execute(
            LoginFailure.__table__.update().values(created_at=utcnow() - timedelta(hours=1))
        )
        db.session.commit()
    assert post_login(client, "ann").status_code == 302


def test_rate_limit_per_address(app, client):
    app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"] = 3
    add_user(app, "ann")
    for name in ("a1", "a2", "a3"):
        post_login(client, name, "guess")
    assert post_login(client, "ann").status_code == 429


# --- CSRF, roles, headers -------------------------------------------------------------
def test_forms_without_csrf_token_are_refused(app, client):
    add_user(app, "ann")
    response = client.post("/login", data={"username": "ann", "password": PASSWORD})
    assert response.status_code == 400 and "security token" in response.text
    annotator = log_in(app.test_client(), add_user(app, "bob"))
    assert annotator.post("/logout").status_code == 400
    assert annotator.post("/annotate/n01440764", data={"synset": "n01440764"}).status_code == 400
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(LoginFailure)) == 0


def test_security_headers_everywhere(annotator):
    for path in (
        "/login",
        "/",
        "/annotate/n01440764",
        "/api/progress",
        "/static/style.css",
        "/nowhere",
    ):
        with annotator.get(path) as response:  # closes the static file
            headers = response.headers
        assert headers["Content-Security-Policy"].startswith("default-src 'self'")
        assert "unsafe-inline" not in headers["Content-Security-Policy"]
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["X-Content-Type-Options"] == "nosniff"


def test_pages_have_no_inline_script(annotator, admin):
    for client, path in ((annotator, "/annotate/n02110341"), (annotator, "/"), (admin, "/admin/")):
        page = client.get(path).text
        assert re.findall(r"<script(?![^>]*\bsrc=)", page) == []
        assert not re.search(r"<[^>]+\son[a-z]+=", page)  # no inline event handlers
        assert "style=" not in page


# --- the schema -----------------------------------------------------------------------
def test_accounts_migration(unmigrated_app):
    with unmigrated_app.app_context():
        upgrade()
        assert {"skips", "login_failures"} <= set(inspect(db.engine).get_table_names())
        db.session.remove()
        downgrade(revision="0001")
        assert not {"skips", "login_failures"} & set(inspect(db.engine).get_table_names())
        upgrade()
        db.session.remove()


# --- usernames: whole matches, one name whatever its case -----------------------------
@pytest.mark.parametrize("username", ["alice\n", "alice\r\n", "a" * 64 + "\n", " alice"])
def test_usernames_with_trailing_or_leading_junk_are_refused(either_app, username):
    app = either_app
    with app.app_context():
        with pytest.raises(accounts.AccountError, match="a username has"):
            accounts.create_user(username, PASSWORD)
        token = accounts.create_invitation()
    client = app.test_client()
    assert account_form(client, f"/invite/{token}", username).status_code == 400
    assert users(app) == {}


def test_usernames_are_unique_whatever_their_case(app, client):
    add_user(app, "alice")
    with app.app_context(), pytest.raises(accounts.AccountError, match="taken"):
        accounts.create_user("Alice", PASSWORD)
    assert users(app) == {"alice": "annotator"}
    # One account, so one name to log in with and one count of failures.
    assert post_login(client, "ALICE").status_code == 302
    other = app.test_client()
    for spelling in ("alice", "Alice", "ALICE", "aLiCe", "alicE"):
        assert post_login(other, spelling, "guess").status_code == 401
    assert post_login(other, "alice").status_code == 429


def test_username_migration_reports_clashes(unmigrated_app, capsys):
    with unmigrated_app.app_context():
        upgrade(revision="0003")
        # The table as revision 0003 has it, without session_generation.
        db.session.execute(
            text(
                "INSERT INTO users (username, role, active, created_at) "
                "VALUES (:username, 'annotator', :active, :created_at)"
            ),
            [
                {"username": name, "active": True, "created_at": utcnow()}
                for name in ("alice", "Alice", "bob", "BOB", "carol")
            ],
        )
        db.session.commit()
        capsys.readouterr()
        with pytest.raises(SystemExit):  # how Flask-Migrate ends a failed upgrade
            upgrade()
        db.session.rollback()
        message = capsys.readouterr().err
        assert "'Alice', 'alice'; 'BOB', 'bob'" in message and "carol" not in message
        assert "nothing was changed" in message
        columns = {c["name"] for c in inspect(db.engine).get_columns("users")}
        assert "session_generation" not in columns
        db.session.execute(
            text("UPDATE users SET username = username || '2' WHERE username IN ('Alice', 'BOB')")
        )
        db.session.commit()
        db.session.remove()
        upgrade()
        assert accounts.authenticate("ALICE2", PASSWORD) is None  # found, no password


# --- passwords ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "username, password, reason",
    [
        ("ann", " " * 8, "only spaces"),
        ("ann", "\t \n \t \n ", "only spaces"),
        ("longusername", "longusername", "the username"),
        ("longusername", "LongUserName", "the username"),
        ("ann", "password", "too common"),
        ("ann", "12345678", "too common"),
        ("ann", "Qwertyuiop", "too common"),
        ("ann", "short", "at least 8"),
    ],
)
def test_weak_passwords_are_refused(app, client, username, password, reason):
    with app.app_context():
        with pytest.raises(accounts.AccountError, match=reason):
            accounts.create_user(username, password)
        token = accounts.create_invitation()
    response = account_form(client, f"/invite/{token}", username, password)
    assert response.status_code == 400 and reason in response.text
    assert users(app) == {}


def test_server_header_names_no_versions(app):
    """Under `flask run` (Werkzeug's server) as under gunicorn: no version to look up."""
    with serving(app) as base:
        connection = http.client.HTTPConnection(base.removeprefix("http://"), timeout=10)
        connection.request("GET", "/login")
        response = connection.getresponse()
        response.read()
        connection.close()
    assert response.status == 200
    served_by = response.getheader("Server")
    assert "Werkzeug" not in served_by and "Python" not in served_by
    assert not re.search(r"\d", served_by)
