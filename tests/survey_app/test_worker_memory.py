"""What a worker keeps in memory: nothing twice, nothing it no longer needs, and no whole
log held at once where a part at a time does (benchmarks/growth.py's worker peak RSS at
21,843 classes). Asserted on what is kept and shared, and on tracemalloc's count of the
bytes Python allocated, not on the process's resident memory, which other jobs move."""

from __future__ import annotations

import gc
import tracemalloc
import weakref
from datetime import datetime, timedelta

from sqlalchemy import insert, select

from clustering import dbread
from survey_app import aggregation, disagreements
from survey_app.extensions import db
from survey_app.models import User, Vote

from .test_aggregation_lag import vote
from .test_review import DALMATIAN, DOG, MAMMAL, PUG, add_votes


def test_an_aggregation_replaced_by_a_newer_one_is_released(app, admin):
    add_votes(app, [("v1", DALMATIAN, DOG, None), ("v2", DALMATIAN, DOG, None)])
    assert admin.get("/admin/review/").status_code == 200  # derives values from it
    with app.app_context():
        old = weakref.ref(aggregation.current_aggregation())
        assert disagreements.chosen_by(old())[DOG] == (DALMATIAN,)
    vote(app, "v1", MAMMAL)
    with app.app_context():
        new = aggregation.current_aggregation()
        gc.collect()
        assert old() is None  # not kept as the key of the review's derived values
        assert DALMATIAN in disagreements.chosen_by(new)[new.outcomes[DALMATIAN].label]


def _log_of(app, votes: int) -> None:
    """`votes` votes on the pug by one annotator, a second apart."""
    start = datetime(2024, 5, 2)
    with app.app_context():
        db.session.add(User(username="many"))
        db.session.flush()
        user = db.session.scalar(select(User.id).where(User.username == "many"))
        rows = [
            {
                "annotator_id": user,
                "class_wnid": PUG,
                "synset_wnid": DOG if i % 2 else MAMMAL,
                "comment": f"vote {i}",
                "created_at": start + timedelta(seconds=i),
            }
            for i in range(votes)
        ]
        db.session.execute(insert(Vote), rows)
        db.session.commit()


def _peak_bytes(call) -> int:
    """The most bytes Python held at once during `call()`, beyond what it held before."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        call()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def test_the_log_digest_holds_a_part_of_the_log_at_a_time(app, monkeypatch):
    monkeypatch.setattr(dbread, "ROWS_AT_ONCE", 100)
    _log_of(app, 4000)
    with app.app_context():
        connection = db.session.connection()
        digest = _peak_bytes(lambda: dbread.log_digest(connection))
        whole = _peak_bytes(lambda: list(connection.execute(select(Vote.__table__))))
    # Digesting the log as a whole took more than reading it whole; in parts, a
    # fraction of it.
    assert digest < whole / 5


def test_votes_read_share_one_string_per_annotator_and_wnid(app):
    _log_of(app, 10)
    add_votes(app, [("v1", DALMATIAN, DOG, None), ("v2", DALMATIAN, DOG, None)])
    with app.app_context():
        votes = dbread.read_votes(db.session.connection())
    many = [v for v in votes if v.annotator == "many"]
    assert len({id(v.annotator) for v in many}) == 1
    assert len({id(v.wnid) for v in many}) == 1
    assert len({id(v.label) for v in many if v.label == DOG}) == 1
    dalmatian = [v for v in votes if v.wnid == DALMATIAN]
    assert dalmatian[0].wnid is dalmatian[1].wnid and dalmatian[0].label is dalmatian[1].label
