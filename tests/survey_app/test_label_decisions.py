"""Conflicts and label decisions through the JSON API: what an admin sees, records and
accepts, what is refused (nothing stored then), and who may ask."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from survey_app.aggregation import current_aggregation
from survey_app.extensions import db
from survey_app.models import LabelDecision, User, Vote

from .conftest import add_user, csrf_token, log_in

BIRD, OSTRICH, BRAMBLING, CRANE_BIRD = "n01503061", "n01518878", "n01530575", "n02012849"
DOG, PUG, DALMATIAN, TENCH, FINCH = "n02084071", "n02110958", "n02110341", "n01440764", "n01529672"
START = datetime(2024, 5, 1, 12, 0)

# Two annotators each: the ostrich and the brambling keep their own labels below the
# crane's "bird"; the pug keeps its own below the dalmatian's "dog". Two conflict groups.
CHOICES = {OSTRICH: OSTRICH, BRAMBLING: BRAMBLING, CRANE_BIRD: BIRD, PUG: PUG, DALMATIAN: DOG}


def fill(app) -> None:
    with app.app_context():
        voters = [User(username=name, role="annotator") for name in ("vic", "wes")]
        db.session.add_all(voters)
        db.session.flush()
        for minute, (wnid, label) in enumerate(CHOICES.items()):
            for voter in voters:
                db.session.add(
                    Vote(
                        annotator_id=voter.id,
                        class_wnid=wnid,
                        synset_wnid=label,
                        created_at=START + timedelta(minutes=minute),
                    )
                )
        db.session.commit()


@pytest.fixture
def conflicted(app):
    fill(app)
    return app


def token(client) -> str:
    return client.get("/api/me").get_json()["csrf_token"]


def post(client, path: str, body, csrf: bool = True):
    headers = {"X-CSRFToken": token(client)} if csrf else {}
    data = body if isinstance(body, str) else json.dumps(body)
    return client.post(path, data=data, headers=headers, content_type="application/json")


def stored(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(LabelDecision))


def groups(client) -> dict[str, dict]:
    """general wnid -> its group, as GET /api/conflicts answers."""
    body = client.get("/api/conflicts").get_json()
    return {group["general"]["wnid"]: group for group in body["conflicts"]}


def settled_by(group: dict) -> dict[str, tuple[bool, str]]:
    return {label["wnid"]: (label["kept"], label["by"]) for label in group["labels"]}


def test_conflicts_lists_every_group(conflicted, admin):
    """Each label below a general one, with the classes that chose it and the votes each
    settlement satisfies: keeping the ostrich satisfies its two voters, merging none."""
    assert admin.get("/api/conflicts").get_json() == {
        "conflicts": [
            {
                "general": {"wnid": BIRD, "name": "bird"},
                "settled": False,
                "labels": [
                    {
                        "wnid": OSTRICH,
                        "name": "ostrich",
                        "classes": [OSTRICH],
                        "kept": True,
                        "by": "policy",
                        "kept_votes": 2.0,
                        "merged_votes": 0.0,
                    },
                    {
                        "wnid": BRAMBLING,
                        "name": "brambling",
                        "classes": [BRAMBLING],
                        "kept": True,
                        "by": "policy",
                        "kept_votes": 2.0,
                        "merged_votes": 0.0,
                    },
                ],
            },
            {
                "general": {"wnid": DOG, "name": "dog"},
                "settled": False,
                "labels": [
                    {
                        "wnid": PUG,
                        "name": "pug",
                        "classes": [PUG],
                        "kept": True,
                        "by": "policy",
                        "kept_votes": 2.0,
                        "merged_votes": 0.0,
                    }
                ],
            },
        ]
    }


def test_a_label_decision_is_stored_listed_and_exported(either_app):
    """Recorded through the API on SQLite and PostgreSQL, the decision is listed, settles
    its group, and the export follows it: the brambling goes into "bird"."""
    fill(either_app)
    admin = log_in(either_app.test_client(), add_user(either_app, "boss", role="admin"))
    body = {
        "general": BIRD,
        "keep": [OSTRICH],
        "merge": [BRAMBLING],
        "name": "bird",
        "note": "  a brambling is any bird  ",
    }
    response = post(admin, "/api/label-decisions", body)
    assert response.status_code == 201, response.get_json()
    decision = response.get_json()["label_decision"]
    assert decision.pop("created_at").endswith("Z")
    assert decision == {
        "id": decision["id"],
        "admin": "boss",
        "general": BIRD,
        "keep": [OSTRICH],
        "merge": [BRAMBLING],
        "name": "bird",
        "note": "a brambling is any bird",
    }
    listed = admin.get("/api/label-decisions").get_json()["label_decisions"]
    assert [{k: v for k, v in d.items() if k != "created_at"} for d in listed] == [decision]
    bird = groups(admin)[BIRD]
    assert bird["settled"] is True
    assert settled_by(bird) == {
        OSTRICH: (True, "label decision"),
        BRAMBLING: (False, "label decision"),
    }
    assert groups(admin)[DOG]["settled"] is False
    with either_app.app_context():
        final = current_aggregation().resolution.assignment
    assert (final[BRAMBLING], final[OSTRICH], final[CRANE_BIRD]) == (BIRD, OSTRICH, BIRD)


@pytest.mark.parametrize(
    "body, field",
    [
        ({"general": TENCH, "merge": [PUG]}, "general"),  # no conflict's general label
        ({"general": FINCH, "merge": [BRAMBLING]}, "general"),  # above a label, not chosen
        ({"general": BIRD, "keep": [OSTRICH], "merge": [PUG]}, "merge"),  # another group's
        ({"general": BIRD, "keep": [CRANE_BIRD]}, "keep"),  # a class, not a chosen label
        ({"general": BIRD, "merge": [OSTRICH], "name": "fowl"}, "name"),  # no lemma of bird
        ({"general": BIRD, "keep": OSTRICH}, "keep"),  # not a list
        ({"general": BIRD, "merge": [OSTRICH, 7]}, "merge"),
        ({"general": [BIRD], "merge": [OSTRICH]}, "general"),  # not a string
        ({"general": BIRD, "merge": [OSTRICH], "name": 3}, "name"),
        ({"general": BIRD, "merge": [OSTRICH], "note": {"x": 1}}, "note"),
        ({"general": BIRD, "merge": [OSTRICH], "note": "x" * 1001}, "note"),
        ({"general": BIRD, "merge": [OSTRICH], "note": "nul \x00"}, "note"),
        ({"general": BIRD, "merged": [OSTRICH]}, "merged"),  # a misspelt field
        ({"general": BIRD, "keep": [OSTRICH], "merge": [OSTRICH]}, "merge"),  # twice
        ({"general": BIRD}, "keep"),  # neither kept nor merged
    ],
)
def test_bad_label_decisions_store_nothing(conflicted, admin, body, field):
    response = post(admin, "/api/label-decisions", body)
    answer = response.get_json()
    assert response.status_code == 400, answer
    assert field in answer["problems"], answer
    assert f"{field}:" in answer["error"] and "nothing was recorded" in answer["error"]
    assert stored(conflicted) == 0


@pytest.mark.parametrize("body", ["not json", [BIRD], 5])
def test_a_body_that_is_no_object_is_refused(conflicted, admin, body):
    response = post(admin, "/api/label-decisions", body)
    assert response.status_code == 400 and '"general": WNID' in response.get_json()["error"]
    assert stored(conflicted) == 0


def test_a_post_without_the_csrf_header_is_refused(conflicted, admin):
    for path, body in (
        ("/api/label-decisions", {"general": BIRD, "merge": [OSTRICH]}),
        ("/api/conflicts/accept", {"all": True}),
    ):
        response = post(admin, path, body, csrf=False)
        assert response.status_code == 400 and "CSRF" in response.get_json()["error"]
    assert stored(conflicted) == 0


def test_annotators_may_not_see_or_settle_conflicts(conflicted, annotator):
    for path in ("/api/conflicts", "/api/label-decisions"):
        assert annotator.get(path).status_code == 403
    for path, body in (
        ("/api/label-decisions", {"general": BIRD, "merge": [OSTRICH]}),
        ("/api/conflicts/accept", {"all": True}),
    ):
        response = post(annotator, path, body)
        assert response.status_code == 403 and response.get_json()["status"] == 403
    assert stored(conflicted) == 0


def test_anonymous_gets_401(conflicted, client):
    for path in ("/api/conflicts", "/api/label-decisions"):
        assert client.get(path).status_code == 401
    headers = {"X-CSRFToken": csrf_token(client)}  # the login page's: past CSRF, to the login
    for path in ("/api/label-decisions", "/api/conflicts/accept"):
        assert client.post(path, json={"all": True}, headers=headers).status_code == 401
    assert stored(conflicted) == 0


def test_accepting_records_the_proposed_resolution(conflicted, admin):
    """One group, then every open one; the proposal is what the export does now (the
    votes policy keeps the pug, the ostrich and the brambling)."""
    response = post(admin, "/api/conflicts/accept", {"general": DOG})
    assert response.status_code == 201
    (pug,) = response.get_json()["label_decisions"]
    assert (pug["admin"], pug["general"], pug["keep"], pug["merge"]) == ("boss", DOG, [PUG], [])
    assert pug["note"] == "accepted the proposed resolution"
    now = groups(admin)
    assert now[DOG]["settled"] and not now[BIRD]["settled"]
    assert settled_by(now[DOG]) == {PUG: (True, "label decision")}

    response = post(admin, "/api/conflicts/accept", {"all": True})
    assert response.status_code == 201
    assert [(d["general"], d["keep"]) for d in response.get_json()["label_decisions"]] == [
        (BIRD, [OSTRICH, BRAMBLING])
    ]
    assert all(group["settled"] for group in groups(admin).values())
    again = post(admin, "/api/conflicts/accept", {"all": True})
    assert again.status_code == 200 and again.get_json() == {"label_decisions": []}
    assert stored(conflicted) == 2


@pytest.mark.parametrize(
    "body, problem",
    [
        ({"general": TENCH}, "not the general label of an open conflict"),
        ({"general": 5}, '{"general": WNID} or {"all": true}'),
        ({"all": False}, '{"general": WNID} or {"all": true}'),
        ({"all": True, "general": BIRD}, '{"general": WNID} or {"all": true}'),
        ("[]", "send a JSON object"),
    ],
)
def test_accepting_refuses_what_it_cannot_read(conflicted, admin, body, problem):
    response = post(admin, "/api/conflicts/accept", body)
    assert response.status_code == 400 and problem in response.get_json()["error"]
    assert stored(conflicted) == 0


def test_a_settled_group_is_no_longer_open_to_accept(conflicted, admin):
    assert post(admin, "/api/conflicts/accept", {"general": DOG}).status_code == 201
    again = post(admin, "/api/conflicts/accept", {"general": DOG})
    assert again.status_code == 400 and again.get_json()["problems"].keys() == {"general"}
    assert stored(conflicted) == 1
