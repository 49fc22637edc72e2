"""How a vote writes: it locks its class's tally, reads everything it checks with the
class's votes and where the vote leads in one statement, and writes the vote and the
class's state together (on PostgreSQL in one statement). On SQLite and PostgreSQL."""

from __future__ import annotations

import random
import threading

from sqlalchemy import event, func, select

from benchmarks import load_votes
from survey_app import class_states, work_queue
from survey_app.extensions import db
from survey_app.models import ClassState, User, Vote
from survey_app.votes import record_vote

from .conftest import add_user, log_in

TENCH = "n01440764"


def test_a_vote_on_a_class_another_vote_is_computing_waits_and_both_count(either_app, monkeypatch):
    """Bob votes on the class while Ann's vote on it is being computed: his vote waits
    until hers is written, then reads it, so the class's state counts both."""
    ann, bob = add_user(either_app, "ann"), add_user(either_app, "bob")
    computed = class_states.state_values
    seen: list[int] = []  # the votes each state was computed from
    bob_done = threading.Event()

    def bob_votes_meanwhile(class_wnid, votes, rule, team):
        seen.append(len(votes))
        if len(seen) == 1:  # Ann's: Bob's vote starts and must wait for hers
            thread = threading.Thread(target=lambda: (cast(either_app, bob), bob_done.set()))
            thread.start()
            assert not bob_done.wait(0.5), "Bob's vote did not wait for Ann's"
        return computed(class_wnid, votes, rule, team)

    monkeypatch.setattr(class_states, "state_values", bob_votes_meanwhile)
    cast(either_app, ann)
    assert bob_done.wait(20)
    assert seen == [1, 2]
    with either_app.app_context():
        state = db.session.get(ClassState, TENCH)
        assert state.votes == 2
        assert db.session.scalar(select(func.count()).select_from(Vote)) == 2
        db.session.remove()


def test_a_vote_leads_where_the_queue_would_send_the_annotator_after_it(either_app):
    """The class the vote's answer leads to is read with the vote's checks, before its
    write: it is the one the queue gives the annotator once the vote is in."""
    annotator_id = add_user(either_app, "ann")
    annotator = log_in(either_app.test_client(), annotator_id)
    others = [log_in(either_app.test_client(), add_user(either_app, f"o{n}")) for n in range(2)]
    choose = random.Random(0).choice
    path = annotator.get("/next").headers["Location"]
    for turn in range(8):
        for other in others[: turn % 3]:  # others' votes move the queue on meanwhile
            other_path = other.get("/next").headers["Location"]
            page = other.get(other_path)
            other.post(other_path, data=load_votes.vote_form(page.text, choose))
        page = annotator.get(path)
        reply = annotator.post(path, data=load_votes.vote_form(page.text, choose))
        assert reply.status_code == 303
        with either_app.app_context():
            expected = work_queue.next_class(annotator_id)
            db.session.remove()
        assert reply.headers["Location"] == f"/annotate/{expected}"
        path = reply.headers["Location"]


def test_a_vote_asks_the_database_nothing_after_its_write(either_app):
    """The write is the vote's last statement: where it leads was read before it (one
    round trip fewer), and the class's votes too (the lock is held no longer)."""
    annotator = log_in(either_app.test_client(), add_user(either_app, "ann"))
    with either_app.app_context():
        engine = db.engine
    statements: list[str] = []

    def statement(_conn, _cursor, sql, *_args) -> None:
        statements.append(sql.lstrip().split(None, 1)[0].upper())

    path = f"/annotate/{TENCH}"
    form = load_votes.vote_form(annotator.get(path).text, lambda wnids: wnids[-1])
    event.listen(engine, "before_cursor_execute", statement)
    try:
        assert annotator.post(path, data=form).status_code == 303
    finally:
        event.remove(engine, "before_cursor_execute", statement)
    assert statements[-1] in ("INSERT", "WITH"), statements


def cast(app, user_id: int) -> None:
    """A vote for TENCH itself, through the vote path, in a context of its own."""
    with app.app_context():
        record_vote(db.session.get(User, user_id), TENCH, TENCH)
        db.session.remove()
