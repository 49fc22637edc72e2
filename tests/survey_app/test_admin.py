"""The admin page: who may see it, invitations, accounts, deactivation."""

import re

from sqlalchemy import select

from survey_app.auth import admin_required
from survey_app.extensions import db
from survey_app.models import Invitation, User

from .conftest import PASSWORD, account_form, add_user, csrf_token, invite_on_admin_page, log_in

ADMIN_POSTS = [
    "/admin/invitations",
    "/admin/invitations/1/revoke",
    "/admin/users",
    "/admin/users/1/active",
]


def test_annotator_gets_403_and_anonymous_the_login_page(app, annotator):
    assert annotator.get("/admin/").status_code == 403
    token = csrf_token(annotator, "/")
    for path in ADMIN_POSTS:
        assert annotator.post(path, data={"csrf_token": token, "active": "0"}).status_code == 403
    anonymous = app.test_client()
    assert anonymous.get("/admin/").location.startswith("/login?next=")
    with app.app_context():
        assert db.session.scalar(select(Invitation)) is None


def test_admin_page_lists_users_and_activity(app, admin, annotator):
    page = admin.get("/admin/").text
    assert "<td>ann</td>" in page and "<td>boss</td>" in page
    assert "Team progress: 0 of 10" in page


def test_invitation_link_is_shown_once_and_works(app, admin):
    link = re.search(r"(http://localhost/invite/[\w-]+)", invite_on_admin_page(admin)).group(1)
    assert "invite/" not in admin.get("/admin/").text  # not shown again
    newcomer = app.test_client()
    path = link.removeprefix("http://localhost")
    assert account_form(newcomer, path, "newbie").location == "/next"
    assert "used by newbie" in admin.get("/admin/").text


def test_bad_invitation_role_is_refused(app, admin):
    token = csrf_token(admin, "/admin/")
    response = admin.post(
        "/admin/invitations", data={"csrf_token": token, "invite-role": "superuser"}
    )
    assert response.status_code == 400
    with app.app_context():
        assert db.session.scalar(select(Invitation)) is None


def test_revoke_invitation(app, admin):
    path = re.search(r"http://localhost(/invite/[\w-]+)", invite_on_admin_page(admin)).group(1)
    token = csrf_token(admin, "/admin/")
    with app.app_context():
        invitation_id = db.session.scalar(select(Invitation.id))
    admin.post(f"/admin/invitations/{invitation_id}/revoke", data={"csrf_token": token})
    assert app.test_client().get(path).status_code == 404
    assert (
        admin.post("/admin/invitations/999/revoke", data={"csrf_token": token}).status_code == 404
    )


def test_create_account_directly(app, admin):
    token = csrf_token(admin, "/admin/")
    form = {
        "csrf_token": token,
        "user-username": "carol",
        "user-password": PASSWORD,
        "user-confirm": PASSWORD,
        "user-role": "admin",
    }
    assert admin.post("/admin/users", data=form).status_code == 303
    short = {**form, "user-username": "dave", "user-password": "short", "user-confirm": "short"}
    response = admin.post("/admin/users", data=short)
    assert response.status_code == 303 and "at least 8 characters" in admin.get("/admin/").text
    taken = admin.post("/admin/users", data=form)
    assert taken.status_code == 303 and "taken" in admin.get("/admin/").text
    with app.app_context():
        roles = {u.username: u.role for u in db.session.scalars(select(User))}
    assert roles == {"boss": "admin", "carol": "admin"}


def test_deactivated_user_is_logged_out(app, admin):
    user_id = add_user(app, "ann")
    annotator = log_in(app.test_client(), user_id)
    assert annotator.get("/").status_code == 200
    token = csrf_token(admin, "/admin/")
    assert (
        admin.post(
            f"/admin/users/{user_id}/active", data={"csrf_token": token, "active": "0"}
        ).status_code
        == 303
    )
    assert annotator.get("/").status_code == 302
    assert (
        admin.post(
            f"/admin/users/{user_id}/active", data={"csrf_token": token, "active": "yes"}
        ).status_code
        == 400
    )
    admin.post(f"/admin/users/{user_id}/active", data={"csrf_token": token, "active": "1"})
    assert annotator.get("/").status_code == 302  # reactivation does not revive the session


def test_admin_cannot_deactivate_themselves(app, admin):
    with app.app_context():
        own_id = db.session.scalar(select(User.id).where(User.username == "boss"))
    token = csrf_token(admin, "/admin/")
    response = admin.post(
        f"/admin/users/{own_id}/active", data={"csrf_token": token, "active": "0"}
    )
    assert response.status_code == 400


def test_admin_required_guards_any_view(app):
    """The decorator other modules (the review pages) import."""
    app.add_url_rule("/probe", "probe", admin_required(lambda: "secret"))
    assert app.test_client().get("/probe").location.startswith("/login?next=")
    assert log_in(app.test_client(), add_user(app, "ann")).get("/probe").status_code == 403
    assert log_in(app.test_client(), add_user(app, "boss", "admin")).get("/probe").text == "secret"


def test_a_refusal_keeps_the_case_of_the_username(app, admin):
    add_user(app, "ann")
    form = {
        "csrf_token": csrf_token(admin, "/admin/"),
        "user-username": "Ann",
        "user-password": PASSWORD,
        "user-confirm": PASSWORD,
        "user-role": "annotator",
    }
    admin.post("/admin/users", data=form)
    assert "The username &#39;Ann&#39; is taken." in admin.get("/admin/").text
