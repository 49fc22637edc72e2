"""The queue's holds (models.QueueHold): the class the queue leads an annotator to
counts as their vote to come, so that a team asking at once fills each class up to
its maximum and goes on to the next, rather than all getting the same class."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from benchmarks import load_votes
from survey_app import create_app
from survey_app.errors import SurveyError
from survey_app.extensions import db
from survey_app.models import QueueHold, User, utcnow
from survey_app.votes import record_vote

from .conftest import add_user, log_in, make_app, seeded
from .test_queue import classes


def led_to(client) -> str:
    """Where /next leads the client's annotator: a class's wnid."""
    reply = client.get("/next")
    assert reply.status_code == 302
    return reply.headers["Location"].rsplit("/", 1)[-1]


def team(app, size: int) -> list:
    """`size` logged-in annotators' test clients, each with its `annotator_id`."""
    clients = []
    for number in range(size):
        annotator_id = add_user(app, f"ann{number}")
        clients.append(log_in(app.test_client(), annotator_id))
        clients[-1].annotator_id = annotator_id
    return clients


def holds(app) -> dict[int, tuple[str, object]]:
    with app.app_context():
        return {
            h.annotator_id: (h.class_wnid, h.held_until)
            for h in db.session.scalars(select(QueueHold))
        }


def lapse(app, annotator_id: int) -> None:
    with app.app_context():
        db.session.execute(
            update(QueueHold)
            .where(QueueHold.annotator_id == annotator_id)
            .values(held_until=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()


@pytest.fixture
def app_of(tmp_path, small_hierarchy, database_url):
    """An app on either database with the given settings."""
    made = []

    def build(**settings):
        made.append(seeded(make_app(tmp_path, database_url, **settings), small_hierarchy))
        return made[-1]

    yield build
    for app in made:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_a_team_asking_at_once_fills_each_class_to_its_maximum_then_the_next(app_of):
    app = app_of(MAX_VOTES=3)
    every = classes(app)
    clients = team(app, 7)
    # None has voted: without holds all seven were sent to the first class.
    assert [led_to(client) for client in clients] == [every[0]] * 3 + [every[1]] * 3 + [every[2]]
    # The API's /next holds as the page's does.
    api = log_in(app.test_client(), add_user(app, "script"))
    assert api.get("/api/next").get_json()["class"] == every[2]
    assert led_to(log_in(app.test_client(), add_user(app, "late"))) == every[2]


def test_the_vote_form_holds_where_it_leads(app_of):
    app = app_of(MAX_VOTES=1)
    every = classes(app)
    ann, bob = team(app, 2)
    page = f"/annotate/{every[0]}"
    form = load_votes.vote_form(ann.get(page).text, lambda wnids: wnids[-1])
    before = utcnow()
    reply = ann.post(page, data=form)
    assert reply.status_code == 303
    leads_to = reply.headers["Location"].rsplit("/", 1)[-1]
    held, until = holds(app)[ann.annotator_id]
    assert held == leads_to == every[1]
    assert before + timedelta(seconds=119) < until <= utcnow() + timedelta(seconds=120)
    # At one vote a class, ann's hold fills the class ann was led to.
    assert led_to(bob) == every[2]


def test_a_hold_counts_until_its_holder_votes_or_it_lapses(app_of):
    app = app_of(MAX_VOTES=3)
    every = classes(app)
    ann, bob, cid, dan, eve = team(app, 5)
    assert led_to(ann) == led_to(bob) == every[0]
    with app.app_context():  # a script's vote, which leads nowhere: ann's hold stays
        record_vote(db.session.get(User, ann.annotator_id), every[0], every[0])
    # ann's vote and bob's hold: two of three, not three (ann counted once).
    assert led_to(cid) == every[0]
    assert led_to(dan) == every[1]  # ann's vote, bob's and cid's holds: full
    lapse(app, bob.annotator_id)
    lapse(app, dan.annotator_id)
    assert led_to(eve) == every[0]  # ann's vote and cid's hold; every[1] new again


def test_no_holds_where_the_setting_is_zero(app_of):
    app = app_of(MAX_VOTES=3, QUEUE_HOLD_SECONDS=0)
    every = classes(app)
    assert [led_to(client) for client in team(app, 4)] == [every[0]] * 4
    assert holds(app) == {}


@pytest.mark.parametrize("seconds", [-1, "soon", True])
def test_a_hold_time_out_of_range_is_refused(seconds):
    with pytest.raises(SurveyError, match="CIL_QUEUE_HOLD_SECONDS is a number of seconds"):
        create_app(
            {"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://", "QUEUE_HOLD_SECONDS": seconds}
        )
