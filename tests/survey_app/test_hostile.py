"""Hostile input, property-based: whatever a form or a JSON body holds, the app
never answers 500, stores nothing when it refuses, and shows stored text escaped."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from survey_app import accounts
from survey_app.extensions import db
from survey_app.models import Decision, Invitation, Skip, User, Vote

from .conftest import account_form, add_user, csrf_token, log_in, post_login

DALMATIAN, DOG, TENCH = "n02110341", "n02084071", "n01440764"
PAYLOADS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "' OR 1=1 --",
    "\x00",
    "a" * 5000,
    "../../etc/passwd",
    "{{ 7 * 7 }}",
    "%s%n",
    "\u202e",
    DALMATIAN,
    DOG,
    "",
    " ",
    "n0",
    "javascript:alert(1)",
]
SCRIPT = "<script>alert(1)</script>"
text = st.one_of(
    st.text(st.characters(exclude_categories=("Cs",)), max_size=200), st.sampled_from(PAYLOADS)
)
json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=6,
)
wnid = st.one_of(st.sampled_from([DALMATIAN, DOG, TENCH, "n99999999"]), text)

HYPOTHESIS = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def stored(app) -> dict[str, int]:
    with app.app_context():
        return {
            model.__name__: db.session.scalar(select(func.count()).select_from(model))
            for model in (User, Vote, Decision, Invitation, Skip)
        }


def assert_safe(response) -> None:
    """No server error, and no stored script in a page. (JSON carries text as
    data, served as application/json with nosniff, so it is not escaped.)"""
    assert response.status_code < 500, response.get_data(as_text=True)[:500]
    if response.mimetype == "text/html":
        assert SCRIPT not in response.get_data(as_text=True)
    else:
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def assert_refused_stores_nothing(app, before: dict, response, accepted: set[int]) -> None:
    assert_safe(response)
    if response.status_code not in accepted:
        assert stored(app) == before


@HYPOTHESIS
@given(class_wnid=wnid, synset=wnid, comment=text, submission_id=text)
def test_vote_form(app, annotator, class_wnid, synset, comment, submission_id):
    token = csrf_token(annotator, "/")
    before = stored(app)
    response = annotator.post(
        f"/annotate/{class_wnid}",
        data={
            "csrf_token": token,
            "synset": synset,
            "comment": comment,
            "submission_id": submission_id,
        },
    )
    assert_refused_stores_nothing(app, before, response, accepted={303})
    if response.status_code == 303:
        for page in ("/", f"/annotate/{class_wnid}", "/api/votes?history=1"):
            assert_safe(annotator.get(page))


@HYPOTHESIS
@given(body=json_value)
def test_vote_api(app, annotator, body):
    token = csrf_token(annotator, "/")
    before = stored(app)
    response = annotator.post(
        "/api/votes",
        data=json.dumps(body),
        content_type="application/json",
        headers={"X-CSRFToken": token},
    )
    assert_refused_stores_nothing(app, before, response, accepted={200, 201})
    assert response.is_json


@HYPOTHESIS
@given(
    body=st.fixed_dictionaries(
        {
            "class": st.sampled_from([DALMATIAN, TENCH]),
            "synset": st.sampled_from([DALMATIAN, TENCH]),
            "comment": st.sampled_from([SCRIPT, '"><b>x</b>', "ok"]),
        }
    )
)
def test_comments_come_back_escaped(app, annotator, body):
    token = csrf_token(annotator, "/")
    response = annotator.post("/api/votes", json=body, headers={"X-CSRFToken": token})
    assert_safe(response)
    for page in ("/", f"/annotate/{body['class']}"):
        html = annotator.get(page).get_data(as_text=True)
        assert "<b>x</b>" not in html and SCRIPT not in html


@HYPOTHESIS
@given(username=text, password=text)
def test_login_form(app, client, username, password):
    before = stored(app)
    response = post_login(client, username, password)
    assert_refused_stores_nothing(app, before, response, accepted=set())


@HYPOTHESIS
@given(username=text, password=text, confirm=text)
def test_invitation_form(app, username, password, confirm):
    with app.app_context():
        token = accounts.create_invitation()
        db.session.commit()
    client = app.test_client()
    page = client.get(f"/invite/{token}")
    assert page.status_code == 200
    before = stored(app)
    response = account_form(client, f"/invite/{token}", username, password, confirm)
    assert_refused_stores_nothing(app, before, response, accepted={302, 303})


@HYPOTHESIS
@given(
    form=st.dictionaries(
        st.sampled_from(["username", "password", "confirm", "role", "days", "synset", "note"]),
        text,
        max_size=5,
    ),
    path=st.sampled_from(
        [
            "/admin/users",
            "/admin/invitations",
            f"/admin/review/classes/{DALMATIAN}/decision",
            "/admin/users/1/active",
            "/admin/invitations/1/revoke",
        ]
    ),
)
def test_admin_forms(app, admin, form, path):
    before = stored(app)
    response = admin.post(path, data={"csrf_token": csrf_token(admin, "/admin/"), **form})
    assert_safe(response)
    if response.status_code >= 400:
        assert stored(app) == before
    assert_safe(admin.get("/admin/"))
    assert_safe(admin.get("/admin/review/queue"))


@HYPOTHESIS
@given(segment=text)
def test_hostile_paths(annotator, segment):
    for path in (
        f"/annotate/{segment}",
        f"/api/classes/{segment}",
        f"/images/small/{segment}/0.jpg",
        f"/images/large/{DALMATIAN}/{segment}.jpg",
    ):
        try:
            response = annotator.get(path)
        except ValueError:  # the test client itself cannot build such a URL
            continue
        assert_safe(response)


def admin_urls(app) -> list[str]:
    urls = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/admin"):
            values = {arg: DALMATIAN if "wnid" in arg else 1 for arg in rule.arguments}
            if "name" in rule.arguments:
                values["name"] = "votes.jsonl"
            with app.test_request_context():
                from flask import url_for

                urls.append((url_for(rule.endpoint, **values), sorted(rule.methods)))
    return urls


def test_admin_routes_refuse_annotators_and_anonymous(app, annotator, client):
    urls = admin_urls(app)
    assert len(urls) >= 8
    for url, methods in urls:
        method = "post" if "POST" in methods else "get"
        anonymous = getattr(client, method)(url)
        assert anonymous.status_code in (302, 401, 400), (url, anonymous.status_code)
        if anonymous.status_code == 302:
            assert "/login" in anonymous.headers["Location"]
        if method == "post":
            token = csrf_token(annotator, "/")
            refused = annotator.post(url, data={"csrf_token": token})
        else:
            refused = annotator.get(url)
        assert refused.status_code == 403, (url, refused.status_code)


def test_options_on_admin_routes(app, annotator, client):
    """OPTIONS, which Flask answers itself, is guarded like every other method."""
    for url, _methods in admin_urls(app):
        anonymous = client.options(url)
        assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"], url
        assert annotator.options(url).status_code == 403, url


def test_deeply_nested_json_is_a_bad_request(app, annotator):
    token = csrf_token(annotator, "/")
    before = stored(app)
    for body in ("[" * 100_000 + "]" * 100_000, '{"class": ' + "[" * 50_000 + "]" * 50_000 + "}"):
        response = annotator.post(
            "/api/votes", data=body, content_type="application/json", headers={"X-CSRFToken": token}
        )
        assert response.status_code == 400 and response.is_json
    assert stored(app) == before


@pytest.mark.parametrize("note", ["\x00", "ok\x00", "x" * 1001])
def test_decision_notes_get_the_checks_of_comments(either_app, note):
    app = either_app
    client = log_in(app.test_client(), add_user(app, "boss", role="admin"))
    before = stored(app)
    response = client.post(
        f"/admin/review/classes/{DALMATIAN}/decision",
        data={
            "csrf_token": csrf_token(client, "/admin/"),
            f"{DALMATIAN}-synset": DOG,
            f"{DALMATIAN}-note": note,
        },
    )
    assert response.status_code == 400
    assert stored(app) == before
