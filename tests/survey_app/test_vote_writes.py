"""How a vote writes: it reads the class's votes and state first, then writes the vote
and the state together only if no other vote on the class was written in between
(migration 0008's `vote_rows`), so that it holds the class's rows only while the write
commits; a vote overtaken in between reads and writes again holding the state's row.
On SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from functools import partial

from flask_migrate import downgrade, upgrade
from sqlalchemy import event, func, insert, select

from benchmarks import load_votes
from survey_app import class_states
from survey_app.extensions import db
from survey_app.models import ClassState, User, Vote
from survey_app.votes import record_vote

from .conftest import add_user, log_in

TENCH, GOLDFISH = "n01440764", "n01443537"
WRITES = ("INSERT", "UPDATE", "DELETE", "WITH")


def reads_after_writes(app, send) -> tuple[object, list[str]]:
    """What `send()` returned, and the statements it ran in a transaction after that
    transaction's first write, other than writes: what the transaction waited for
    while it held the rows it wrote."""
    with app.app_context():
        engine = db.engine
    written: set[int] = set()  # the connections in a transaction that has written
    found: list[str] = []

    def statement(conn, _cursor, sql, _params, _context, _many) -> None:
        if sql.lstrip().upper().startswith(WRITES):
            written.add(id(conn))
        elif id(conn) in written:
            found.append(sql)

    def ended(conn) -> None:
        written.discard(id(conn))

    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine, "commit", ended)
    event.listen(engine, "rollback", ended)
    try:
        result = send()
    finally:
        event.remove(engine, "before_cursor_execute", statement)
        event.remove(engine, "commit", ended)
        event.remove(engine, "rollback", ended)
    return result, found


def test_a_vote_reads_nothing_after_it_has_written(either_app):
    """The vote's write comes after all its reads and the state's computation: a vote
    that read the class's votes after inserting its own held the class's tally row
    (locked by the insert's trigger) meanwhile, and the team's other votes on the class
    queued behind it under load (on PostgreSQL, `pg_stat_activity` showed most waits
    there)."""
    annotator = log_in(either_app.test_client(), add_user(either_app, "ann"))
    other = log_in(either_app.test_client(), add_user(either_app, "bob"))
    for client in (other, annotator):  # the second vote on the class: a state row to update
        path = f"/annotate/{TENCH}"
        page = client.get(path)
        form = load_votes.vote_form(page.text, lambda wnids: wnids[-1])
        reply, found = reads_after_writes(either_app, partial(client.post, path, data=form))
        assert reply.status_code == 303
        assert found == [], found


def test_a_vote_overtaken_between_its_read_and_its_write_counts_both(either_app, monkeypatch):
    """Bob's vote on the class is written while Ann's is being computed from what she
    read: Ann's write finds the state moved on, and she reads and writes again, so the
    state counts both votes."""
    ann, bob = add_user(either_app, "ann"), add_user(either_app, "bob")
    computed = class_states.state_values
    calls: list[int] = []

    def bob_votes_meanwhile(class_wnid, votes, vote_rows, rule, team):
        calls.append(vote_rows)
        if len(calls) == 1:  # Ann's first try: Bob's vote goes in before her write
            thread = threading.Thread(target=cast, args=(either_app, bob, TENCH))
            thread.start()
            thread.join(20)
        return computed(class_wnid, votes, vote_rows, rule, team)

    monkeypatch.setattr(class_states, "state_values", bob_votes_meanwhile)
    cast(either_app, ann, TENCH)
    assert calls == [1, 1, 2]  # Ann alone, Bob alone, then Ann after Bob
    with either_app.app_context():
        state = db.session.get(ClassState, TENCH)
        assert (state.votes, state.vote_rows) == (2, 2)
        assert db.session.scalar(select(func.count()).select_from(Vote)) == 2


def test_a_form_stored_while_its_first_send_was_computed_is_stored_once(either_app, monkeypatch):
    """The same form sent twice at once: the second send is written while the first is
    computed; the first's second try finds it stored and answers that nothing was
    added, leaving one vote and the state the second send wrote."""
    ann = add_user(either_app, "ann")
    computed = class_states.state_values
    calls: list[int] = []

    def resent_meanwhile(class_wnid, votes, vote_rows, rule, team):
        calls.append(vote_rows)
        if len(calls) == 1:
            thread = threading.Thread(target=cast, args=(either_app, ann, GOLDFISH, "form-0001"))
            thread.start()
            thread.join(20)
        return computed(class_wnid, votes, vote_rows, rule, team)

    monkeypatch.setattr(class_states, "state_values", resent_meanwhile)
    with either_app.app_context():
        vote, added = record_vote(db.session.get(User, ann), GOLDFISH, GOLDFISH, None, "form-0001")
        assert not added and vote.submission_id == "form-0001"
    assert calls == [1, 1]  # the retry computes nothing
    with either_app.app_context():
        state = db.session.get(ClassState, GOLDFISH)
        assert (state.votes, state.vote_rows) == (1, 1)
        assert db.session.scalar(select(func.count()).select_from(Vote)) == 1


def test_a_state_behind_the_votes_is_caught_up_by_the_next_vote(either_app):
    """A vote inserted without the vote path (a restore, a script) leaves the class's
    state a version behind; the next vote's state is computed from every row."""
    ann, bob, eve = (add_user(either_app, name) for name in ("ann", "bob", "eve"))
    cast(either_app, ann, TENCH)
    with either_app.app_context():
        db.session.execute(
            insert(Vote), {"annotator_id": bob, "class_wnid": TENCH, "synset_wnid": TENCH}
        )
        db.session.commit()
    cast(either_app, eve, TENCH)
    with either_app.app_context():
        state = db.session.get(ClassState, TENCH)
        assert (state.votes, state.vote_rows) == (3, 3)


def test_the_migration_counts_each_states_vote_rows(either_app):
    ann, bob = add_user(either_app, "ann"), add_user(either_app, "bob")
    cast(either_app, ann, TENCH)
    cast(either_app, bob, TENCH)
    cast(either_app, bob, GOLDFISH)
    with either_app.app_context():
        db.session.remove()
        downgrade(revision="0007")
        upgrade()
        rows = dict(db.session.execute(select(ClassState.class_wnid, ClassState.vote_rows)).all())
        assert rows == {TENCH: 2, GOLDFISH: 1}


def cast(app, user_id: int, class_wnid: str, submission_id: str | None = None) -> None:
    """A vote for the class itself, through the vote path, in a context of its own."""
    with app.app_context():
        record_vote(db.session.get(User, user_id), class_wnid, class_wnid, None, submission_id)
