"""How a vote writes: it locks its class's tally, reads everything it checks with the
class's votes and where the vote leads in one statement, and writes the vote and the
class's state together (on PostgreSQL in one statement). On SQLite and PostgreSQL."""

from __future__ import annotations

import random
import sqlite3
import threading
from contextlib import closing

import psycopg
from sqlalchemy import event, func, make_url, select

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


def class_is_free(app, class_wnid: str) -> bool:
    """Whether another connection could lock the class for a vote of its own at once."""
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() == "sqlite":  # any write takes the database's lock
        with closing(sqlite3.connect(url.database, timeout=0, isolation_level=None)) as other:
            try:
                other.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError:
                return False
            other.execute("ROLLBACK")
            return True
    with psycopg.connect(url.set(drivername="postgresql").render_as_string(False)) as other:
        try:
            other.execute(
                "SELECT 1 FROM class_tallies WHERE class_wnid = %s FOR UPDATE NOWAIT", (class_wnid,)
            )
        except psycopg.errors.LockNotAvailable:
            return False
        return True


def test_a_vote_that_writes_nothing_leaves_the_class_unlocked(either_app):
    """The same vote again, and the same form again, add nothing: the class's lock,
    taken for the read, is let go at once rather than held to the end of the request."""
    ann = add_user(either_app, "ann")
    with either_app.app_context():
        user = db.session.get(User, ann)
        record_vote(user, TENCH, TENCH, None, "form-0001")
        for submission_id in ("form-0001", "form-0002"):  # the form again, the vote again
            _, added = record_vote(user, TENCH, TENCH, None, submission_id)
            assert not added
            assert class_is_free(either_app, TENCH)
        db.session.remove()


def test_the_skills_are_recomputed_before_the_vote_locks_its_class(either_app, monkeypatch):
    """A vote that passes an epoch of the skills recomputes them from every vote: before
    it locks its class, so that no vote on the class (on SQLite no write at all) waits
    for that read of the whole log."""
    monkeypatch.setattr(class_states, "SKILLS_REFRESH_VOTES", 1)  # an epoch every vote
    ann, bob = add_user(either_app, "ann"), add_user(either_app, "bob")
    read_votes = class_states.database_votes
    free_while_read: list[bool] = []

    def watched():
        free_while_read.append(class_is_free(either_app, TENCH))
        return read_votes()

    cast(either_app, ann)
    monkeypatch.setattr(class_states, "database_votes", watched)
    cast(either_app, bob)
    assert free_while_read == [True]
