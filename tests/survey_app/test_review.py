"""The admin's review pages: who may see them, the queue and its decisions, downloads."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from clustering.cil import cil_from_json
from clustering.validate import validate_cil
from survey_app import aggregation, review
from survey_app.extensions import db
from survey_app.models import Decision, User, Vote

from .conftest import csrf_token

PUG, DALMATIAN, OSTRICH, BRAMBLING = "n02110958", "n02110341", "n01518878", "n01530575"
DOG, BIRD, MAMMAL, BUS = "n02084071", "n01503061", "n01861778", "n02924116"
PAGES = [
    "/admin/review/",
    "/admin/review/classes",
    "/admin/review/queue",
    "/admin/review/overview",
    "/admin/review/download/cil.json",
    "/admin/review/download/cil-flat.json",
    "/admin/review/download/votes.jsonl",
]


def add_votes(app, votes, start=datetime(2024, 5, 2)):
    """(annotator, class, label, comment) rows, a minute apart from `start`."""
    with app.app_context():
        users = {u.username: u.id for u in db.session.scalars(select(User))}
        for minute, (name, wnid, label, comment) in enumerate(votes):
            if name not in users:
                user = User(username=name)
                db.session.add(user)
                db.session.flush()
                users[name] = user.id
            db.session.add(
                Vote(
                    annotator_id=users[name],
                    class_wnid=wnid,
                    synset_wnid=label,
                    comment=comment,
                    created_at=start + timedelta(minutes=minute),
                )
            )
        db.session.commit()


@pytest.fixture
def voted(app):
    """Votes of three people: the pug split, "bird" above "ostrich", a comment."""
    add_votes(
        app,
        [
            ("v1", PUG, DOG, None),
            ("v2", PUG, MAMMAL, None),
            ("v3", PUG, PUG, None),
            ("v1", DALMATIAN, DOG, None),
            ("v2", DALMATIAN, DOG, "hard to say"),
            ("v1", BRAMBLING, BIRD, None),
            ("v2", BRAMBLING, BIRD, None),
            ("v1", OSTRICH, OSTRICH, None),
            ("v2", OSTRICH, OSTRICH, None),
        ],
        start=datetime(2024, 5, 1),
    )
    return app


def test_anonymous_visitors_are_sent_to_log_in(voted):
    client = voted.test_client()
    for page in PAGES:
        response = client.get(page)
        assert response.status_code == 302 and "/login" in response.location, page
    assert client.post(f"/admin/review/classes/{PUG}/decision").status_code in (302, 400)


def test_annotators_are_refused(voted, annotator):
    for page in PAGES:
        assert annotator.get(page).status_code == 403, page
    token = csrf_token(annotator, "/")
    response = annotator.post(
        f"/admin/review/classes/{PUG}/decision",
        data={f"{PUG}-csrf_token": token, f"{PUG}-synset": DOG},
    )
    assert response.status_code == 403


def test_the_pages_show_progress_agreement_and_labels(voted, admin):
    summary = admin.get("/admin/review/").get_data(as_text=True)
    assert "Krippendorff" in summary and "Fleiss" in summary
    assert "v1" in summary and "4 of 10" in summary  # v1 voted on four classes
    assert "bird</a> is above 1 decided label: ostrich" in " ".join(summary.split())
    classes = admin.get("/admin/review/classes?status=voted").get_data(as_text=True)
    assert "dalmatian" in classes and "tench" not in classes
    assert admin.get("/admin/review/classes?status=nonsense").status_code == 400
    overview = admin.get("/admin/review/overview").get_data(as_text=True)
    assert "other bird" in overview and "ostrich" in overview
    assert "<script>" not in overview and "style=" not in overview  # nothing inline


def test_the_queue_lists_disagreements(voted, admin):
    page = admin.get("/admin/review/queue").get_data(as_text=True)
    assert f'id="{PUG}"' in page and "split, tie" in page  # three different votes
    assert f'id="{OSTRICH}"' in page and "conflict" in page
    assert "hard to say" in page
    assert f'id="{BRAMBLING}"' in page  # voted "bird", which is above "ostrich"
    assert "csrf_token" in page


def test_settling_a_class_appends_a_decision(voted, admin):
    token = csrf_token(admin, "/admin/review/queue")
    for label in (MAMMAL, DOG):  # a changed mind is a second row
        response = admin.post(
            f"/admin/review/classes/{PUG}/decision",
            data={
                f"{PUG}-csrf_token": token,
                f"{PUG}-synset": label,
                f"{PUG}-note": "a dog to anyone",
            },
        )
        assert response.status_code == 303 and response.location.endswith("/admin/review/queue")
    with voted.app_context():
        rows = db.session.scalars(select(Decision).order_by(Decision.id)).all()
        assert [(d.class_wnid, d.synset_wnid, d.note) for d in rows] == [
            (PUG, MAMMAL, "a dog to anyone"),
            (PUG, DOG, "a dog to anyone"),
        ]
    assert f'id="{PUG}"' not in admin.get("/admin/review/queue").get_data(as_text=True)
    cil = cil_from_json(admin.get("/admin/review/download/cil.json").get_json())
    assert cil.labels[cil.label_of(PUG)].wnid == DOG


def test_bad_decisions_are_refused(voted, admin):
    token = csrf_token(admin, "/admin/review/queue")
    off_chain = admin.post(
        f"/admin/review/classes/{PUG}/decision",
        data={f"{PUG}-csrf_token": token, f"{PUG}-synset": BUS},
    )
    assert off_chain.status_code == 400 and "Not a valid choice" in off_chain.get_data(as_text=True)
    no_token = admin.post(f"/admin/review/classes/{PUG}/decision", data={f"{PUG}-synset": DOG})
    assert no_token.status_code == 400
    unknown = admin.post(
        "/admin/review/classes/n09999999/decision",
        data={"n09999999-csrf_token": token, "n09999999-synset": DOG},
    )
    assert unknown.status_code == 404
    with voted.app_context():
        assert db.session.scalars(select(Decision)).first() is None


def test_downloads(voted, admin, small_hierarchy):
    rich = admin.get("/admin/review/download/cil.json")
    assert rich.headers["Content-Disposition"] == 'attachment; filename="cil.json"'
    assert validate_cil(cil_from_json(rich.get_json()), small_hierarchy).ok
    flat = admin.get("/admin/review/download/cil-flat.json?conflicts=lift").get_json()
    assert flat[OSTRICH] == "bird" and len(flat) == 10
    votes = admin.get("/admin/review/download/votes.jsonl").get_data(as_text=True).splitlines()
    assert len(votes) == 9 and json.loads(votes[0])["annotator"] == "v1"
    refused = admin.get("/admin/review/download/cil.json?conflicts=refuse")
    assert refused.status_code == 409
    assert "ancestor of ostrich" in refused.get_data(as_text=True)
    assert admin.get("/admin/review/download/cil.json?min_votes=0").status_code == 400
    assert admin.get("/admin/review/download/secrets.txt").status_code == 404


def test_aggregation_is_computed_once_per_vote_log_position(voted, admin, monkeypatch):
    """Every review page aggregates every vote: kept while no vote or decision is
    added, computed afresh when one is, and apart for other settings."""
    calls = []
    real = aggregation.aggregate
    monkeypatch.setattr(aggregation, "aggregate", lambda *a, **k: calls.append(1) or real(*a, **k))
    for page in ("/admin/review/", "/admin/review/queue", "/admin/review/classes"):
        assert admin.get(page).status_code == 200
    assert len(calls) == 1
    with voted.app_context():
        v3 = db.session.scalar(select(User.id).where(User.username == "v3"))
        db.session.add(Vote(annotator_id=v3, class_wnid=DALMATIAN, synset_wnid=DOG))
        db.session.commit()
    token = csrf_token(admin, "/admin/review/queue")
    assert len(calls) == 2
    assert (
        admin.post(
            f"/admin/review/classes/{PUG}/decision",
            data={f"{PUG}-csrf_token": token, f"{PUG}-synset": DOG},
        ).status_code
        == 303
    )
    for page in ("/admin/review/", "/admin/review/overview"):
        assert admin.get(page).status_code == 200
    assert len(calls) == 3
    assert admin.get("/admin/review/download/cil.json?min_votes=1").status_code == 200
    assert len(calls) == 4


SCHOOL_BUS, TROLLEYBUS = "n04146614", "n04487081"


def test_conflicts_are_counted_among_decided_labels_only_and_grouped(voted, admin):
    """ "bus" decided for the school bus sits above the trolleybus, which has no
    vote and keeps its own label: no conflict to look at yet."""
    add_votes(voted, [("v1", SCHOOL_BUS, BUS, None), ("v2", SCHOOL_BUS, BUS, None)])
    with voted.app_context():
        groups = review.conflict_groups(aggregation.current_aggregation())
    assert [(g.general, g.specifics, g.classes) for g in groups] == [
        (BIRD, (OSTRICH,), (OSTRICH,)),
        (DOG, (PUG,), (PUG,)),
    ]
    summary = " ".join(admin.get("/admin/review/").text.split())
    assert "trolleybus" not in summary and "2 conflicts" in summary
    assert "bird</a> is above 1 decided label: ostrich" in summary


def test_one_click_settles_a_conflict_group(voted, admin):
    token = csrf_token(admin, "/admin/review/")
    response = admin.post(f"/admin/review/conflicts/{BIRD}/merge", data={"csrf_token": token})
    assert response.status_code == 303
    with voted.app_context():
        rows = [(d.class_wnid, d.synset_wnid) for d in db.session.scalars(select(Decision))]
        assert rows == [(OSTRICH, BIRD)]
        assert [g.general for g in review.conflict_groups(aggregation.current_aggregation())] == [
            DOG
        ]
    assert (
        admin.post(f"/admin/review/conflicts/{BUS}/merge", data={"csrf_token": token}).status_code
        == 404
    )  # no such conflict


def test_queue_rules(voted):
    """At least the minimum votes and no clear winner, or in a conflict among
    decided labels, or a comment; never a class without votes; oldest first."""
    add_votes(
        voted,
        [
            ("v1", SCHOOL_BUS, BUS, None),
            ("v2", SCHOOL_BUS, BUS, None),
            ("v1", TROLLEYBUS, TROLLEYBUS, "is this a bus?"),
            ("v1", "n01440764", "n01440764", None),
        ],
    )  # tench: one vote, no comment
    with voted.app_context():
        entries = review.disagreement_queue(aggregation.current_aggregation())
    assert [e.wnid for e in entries] == [PUG, DALMATIAN, BRAMBLING, OSTRICH, TROLLEYBUS]
    reasons = {e.wnid: e.reasons for e in entries}
    assert reasons[PUG] == ("split", "tie", "conflict")  # "dog" is decided for the dalmatian
    assert reasons[TROLLEYBUS] == ("comment",)
    assert "conflict" in reasons[OSTRICH] and SCHOOL_BUS not in reasons


def test_review_lists_page_and_filter(voted, admin):
    classes = admin.get("/admin/review/classes?status=split").text
    assert "pug" in classes and "ostrich" not in classes
    assert "dalmatian" in admin.get("/admin/review/classes?status=comment").text
    by_v3 = admin.get("/admin/review/classes?annotator=v3").text
    assert "pug" in by_v3 and "dalmatian" not in by_v3
    assert admin.get("/admin/review/classes?annotator=nobody").status_code == 400
    first = admin.get("/admin/review/classes?per_page=4").text
    assert "page 1 of 3" in first
    names = re.findall(r'<td class="class-name">([^<]+)', first)
    assert names == sorted(names, key=str.casefold)
    overview = admin.get("/admin/review/overview").text
    assert overview.count('class="label-card"') == 10 and "page 1 of 1" in overview
