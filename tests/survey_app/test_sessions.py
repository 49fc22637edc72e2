"""Sessions end on the server: a copied session cookie stops working after
logout, "log out everywhere", a password change or a deactivation, and a
reactivated account does not revive its old sessions."""

from __future__ import annotations

from sqlalchemy import select

from survey_app.extensions import db
from survey_app.models import User

from .conftest import PASSWORD, add_user, csrf_token, post_login

DALMATIAN = "n02110341"
NEW_PASSWORD = "a brand new passphrase"


def logged_in(app, username: str, password: str = PASSWORD):
    """A client logged in through the login form, as a browser is."""
    client = app.test_client()
    response = post_login(client, username, password)
    assert response.status_code == 302, response.text
    return client


def copy_of(app, client):
    """Another browser holding a copy of `client`'s session cookie."""
    thief = app.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    return thief


def answers(client) -> bool:
    """Whether the session is still a logged-in one, for reading and for voting."""
    me = client.get("/api/me")
    if me.status_code != 200:
        assert me.status_code == 401
        return False
    vote = client.post(
        "/api/votes",
        json={"class": DALMATIAN, "synset": DALMATIAN},
        headers={"X-CSRFToken": me.get_json()["csrf_token"]},
    )
    assert vote.status_code in (200, 201)
    return True


def test_logout_ends_a_copied_session(app):
    add_user(app, "ann")
    browser = logged_in(app, "ann")
    thief = copy_of(app, browser)
    assert answers(thief)
    response = browser.post("/logout", data={"csrf_token": csrf_token(browser, "/")})
    assert response.status_code == 302
    assert not answers(thief)
    assert not answers(browser)
    assert answers(logged_in(app, "ann"))  # a new login works as before


def test_admin_logs_a_user_out_everywhere(app, admin):
    user_id = add_user(app, "ann")
    first, second = logged_in(app, "ann"), logged_in(app, "ann")
    response = admin.post(
        f"/admin/users/{user_id}/sessions", data={"csrf_token": csrf_token(admin, "/admin/")}
    )
    assert response.status_code == 303
    assert not answers(first) and not answers(second)
    assert answers(admin)  # the admin's own session is untouched


def test_password_change_ends_the_other_sessions(app):
    add_user(app, "ann")
    browser, elsewhere = logged_in(app, "ann"), logged_in(app, "ann")
    thief = copy_of(app, browser)
    assert browser.get("/account").status_code == 200
    wrong = browser.post(
        "/account/password",
        data={
            "csrf_token": csrf_token(browser, "/account"),
            "current": "not my password",
            "password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
        },
    )
    assert wrong.status_code == 400 and answers(elsewhere)
    response = browser.post(
        "/account/password",
        data={
            "csrf_token": csrf_token(browser, "/account"),
            "current": PASSWORD,
            "password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
        },
    )
    assert response.status_code == 303
    assert answers(browser)  # the browser that changed it stays logged in, on a new session
    assert not answers(elsewhere) and not answers(thief)
    assert logged_in(app, "ann", NEW_PASSWORD)
    assert post_login(app.test_client(), "ann", PASSWORD).status_code == 401


def test_deactivation_ends_sessions_and_reactivation_does_not_revive_them(app, admin):
    user_id = add_user(app, "ann")
    browser = logged_in(app, "ann")
    for active in ("0", "1"):
        response = admin.post(
            f"/admin/users/{user_id}/active",
            data={"csrf_token": csrf_token(admin, "/admin/"), "active": active},
        )
        assert response.status_code == 303
    with app.app_context():
        assert db.session.scalar(select(User.active).where(User.id == user_id))
    assert not answers(browser)
    assert answers(logged_in(app, "ann"))
