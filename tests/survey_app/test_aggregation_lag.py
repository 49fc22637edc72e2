"""An aggregation slower than AGGREGATION_INLINE_SECONDS: after a vote the review pages
show the kept one, marked as behind, while a thread computes the new one; downloads
and the review's actions never lag."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from survey_app import aggregation, disagreements
from survey_app.extensions import db
from survey_app.models import User, Vote

from .conftest import add_user, log_in, make_app, seeded
from .test_review import DALMATIAN, DOG, MAMMAL, add_votes

BEHIND = "These figures are 1 vote or decision behind"


@pytest.fixture
def app(tmp_path, small_hierarchy):
    # 0 s: every aggregation counts as slow, so the review pages never wait for one.
    app = seeded(make_app(tmp_path, AGGREGATION_INLINE_SECONDS=0.0), small_hierarchy)
    add_votes(app, [("v1", DALMATIAN, DOG, None), ("v2", DALMATIAN, DOG, None)])
    return app


def vote(app, name: str, label: str) -> None:
    with app.app_context():
        user = db.session.scalar(select(User.id).where(User.username == name))
        db.session.add(Vote(annotator_id=user, class_wnid=DALMATIAN, synset_wnid=label))
        db.session.commit()


def wait_for_threads(app) -> None:
    for thread in aggregation.rebuilding_threads(app):
        thread.join()


@pytest.mark.parametrize(
    "page",
    ["/admin/review/", "/admin/review/classes", "/admin/review/queue", "/admin/review/overview"],
)
def test_review_pages_show_the_kept_figures_while_new_ones_are_computed(
    app, admin, page, monkeypatch
):
    first = admin.get(page).text  # nothing kept yet: computed while the page waits
    assert BEHIND not in first
    calls = []
    real = aggregation.aggregate
    monkeypatch.setattr(aggregation, "aggregate", lambda *a, **k: calls.append(1) or real(*a, **k))
    vote(app, "v1", MAMMAL)
    behind = admin.get(page)
    assert behind.status_code == 200 and BEHIND in behind.text
    wait_for_threads(app)
    assert calls == [1]  # the thread computed it, once
    assert BEHIND not in admin.get(page).text
    assert calls == [1]  # and the page shows that one


def test_the_first_page_after_the_rebuild_finds_its_queue_derived(app, admin, monkeypatch):
    """The thread that computes the new aggregation also derives what the review pages
    show of it: the first page to show it no longer pays for that (1.3 s at
    ImageNet-21k's size)."""
    admin.get("/admin/review/")
    queues = []
    real = disagreements._disagreement_queue
    monkeypatch.setattr(disagreements, "_disagreement_queue", lambda r: queues.append(1) or real(r))
    vote(app, "v1", MAMMAL)
    assert BEHIND in admin.get("/admin/review/").text
    wait_for_threads(app)
    assert queues == [1]  # by the thread
    assert BEHIND not in admin.get("/admin/review/queue").text
    assert queues == [1]


def test_downloads_never_lag(app, admin):
    admin.get("/admin/review/")
    vote(app, "v1", MAMMAL)
    vote(app, "v2", MAMMAL)
    cil = json.loads(admin.get("/admin/review/download/cil.json").text)
    label = {c["wnid"]: c["label_name"] for c in cil["classes"]}[DALMATIAN]
    assert label.endswith("mammal")  # both votes moved on, and the download knows it
    wait_for_threads(app)


def test_a_fast_aggregation_is_computed_while_the_page_waits(tmp_path, small_hierarchy):
    # A minute: far more than the small hierarchy's aggregation takes, even on a loaded
    # machine, so the page waits for it.
    app = seeded(make_app(tmp_path, AGGREGATION_INLINE_SECONDS=60.0), small_hierarchy)
    admin = log_in(app.test_client(), add_user(app, "boss", role="admin"))
    add_votes(app, [("v1", DALMATIAN, DOG, None), ("v2", DALMATIAN, DOG, None)])
    admin.get("/admin/review/")
    vote(app, "v1", MAMMAL)
    assert BEHIND not in admin.get("/admin/review/").text
    assert aggregation.rebuilding_threads(app) == []
