"""The vote log as the aggregation reads it: after a vote, only the new rows are read
(`clustering.dbread.read_vote_log`), the list always equal to a full read; and a vote
committed after a later-numbered one (PostgreSQL numbers rows as they are written, not
as they commit) is never missed by the aggregation kept per position of the logs."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import insert, select

from clustering import dbread
from survey_app import aggregation
from survey_app.extensions import db
from survey_app.models import User, Vote

from .test_review import BIRD, BRAMBLING, DALMATIAN, DOG, MAMMAL, OSTRICH, PUG, add_votes


def user_id(name: str) -> int:
    return db.session.scalar(select(User.id).where(User.username == name))


@pytest.fixture
def voted(either_app):
    add_votes(either_app, [("v1", DALMATIAN, DOG, None), ("v2", DALMATIAN, DOG, None)])
    add_votes(either_app, [("v1", PUG, MAMMAL, None), ("v2", PUG, DOG, "looks like a dog")])
    return either_app


@pytest.fixture
def rows_read(monkeypatch) -> list[int]:
    """The number of vote rows each read of the log fetched."""
    counted: list[int] = []
    real = dbread._vote_rows

    def counting(*args, **kwargs):
        rows = list(real(*args, **kwargs))
        counted.append(len(rows))
        return rows

    monkeypatch.setattr(dbread, "_vote_rows", counting)
    return counted


def read(known=None):
    return dbread.read_vote_log(db.session.connection(), known)


def test_after_new_votes_only_they_are_read_and_the_list_equals_a_full_read(voted, rows_read):
    with voted.app_context():
        first = read()
        add_votes(voted, [("v3", OSTRICH, BIRD, None)], start=datetime(2025, 1, 1))
        add_votes(voted, [("v1", OSTRICH, BIRD, "bird")], start=datetime(2025, 1, 2))
        second = read(first)
        assert rows_read == [4, 2]
        assert list(second.votes) == dbread.read_votes(db.session.connection())
        assert read(second).votes == second.votes and rows_read[-1] == 0


def test_a_new_vote_older_than_the_last_one_read_makes_it_read_everything(voted, rows_read):
    # An import may write votes with the times they were cast elsewhere: the log's order
    # is by time, so such a vote belongs before the last one read.
    with voted.app_context():
        first = read()
        add_votes(voted, [("v3", PUG, DOG, None)], start=datetime(2020, 1, 1))
        second = read(first)
        assert rows_read == [4, 1, 5]
        assert list(second.votes) == dbread.read_votes(db.session.connection())
        assert second.votes[0].annotator == "v3"


@pytest.mark.postgres
def test_a_vote_committed_after_a_later_numbered_one_is_never_missed(voted, database_url):
    if database_url is None:
        pytest.skip("SQLite writes one transaction at a time: rows commit in their order")
    app = voted
    with app.app_context():
        aggregation.current_aggregation()
        users = {name: user_id(name) for name in ("v1", "v2")}
        engine = db.engine
    with engine.connect() as slow, engine.connect() as quick:
        slow.execute(
            insert(Vote).values(annotator_id=users["v1"], class_wnid=OSTRICH, synset_wnid=BIRD)
        )  # numbered first, committed last
        # Another annotator and class: the queue's tallies lock neither row of the first.
        quick.execute(
            insert(Vote).values(annotator_id=users["v2"], class_wnid=BRAMBLING, synset_wnid=BIRD)
        )
        quick.commit()
        with app.app_context():
            outcomes = aggregation.current_aggregation().outcomes
            assert (outcomes[OSTRICH].votes, outcomes[BRAMBLING].votes) == ({}, {BIRD: 1})
        slow.commit()
    with app.app_context():
        assert aggregation.current_aggregation().outcomes[OSTRICH].votes == {BIRD: 1}
