"""The queue's statements (survey_app.work_queue) and the home page's reads against
the rules they implement, written plainly in Python, and the work they do as the
class list and the annotator's votes grow."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from contextlib import contextmanager
from datetime import timedelta

import psycopg
from flask_migrate import downgrade, upgrade
from sqlalchemy import func, select, text

from survey_app import work_queue
from survey_app.extensions import db
from survey_app.models import (
    AnnotatorTally,
    ClassState,
    ClassTally,
    ImageClass,
    QueueCount,
    QueueHold,
    QueueOffer,
    Skip,
    User,
    Vote,
    utcnow,
)
from survey_app.survey_settings import queue_settings, save_queue_settings
from survey_app.votes import LatestVotes, record_vote

from .conftest import PG_ADMIN_URL, add_user, make_app, seeded

# A closing rule that no few votes meet: every class voted on stays open.
OPEN_AFTER_VOTES = {"MAX_VOTES": 10, "TARGET_CONFIDENCE": 1 - 1e-12, "QUEUE_BATCH": 3}


def expected_next(
    survey: dict, user_id: int, batch: int, max_votes: int, besides: str | None = None
):
    """The module docstring's rule: among the classes the annotator has neither voted
    on nor skipped and that are not closed, first those of the first `batch` open
    classes (by index) whose annotators and others' holds are fewer than `max_votes`,
    started (voted on or held) before new, the fewest first; beyond them started
    (fewest annotators first) before new; then the rest of the batch, the fewest
    first; each then by index."""
    open_classes = [c for c in survey["classes"] if c not in survey["closed"]]
    in_batch = set(open_classes[:batch])
    taken = survey["voted"].get(user_id, set()) | survey["skipped"].get(user_id, set())
    candidates = [c for c in open_classes if c not in taken and c != besides]
    annotators = survey["annotators"]

    def order(wnid):
        index = open_classes.index(wnid)
        if wnid not in in_batch:
            votes = annotators.get(wnid, 0)
            return (1, votes == 0, votes, index)
        expected = annotators.get(wnid, 0) + len(survey["holders"].get(wnid, set()) - {user_id})
        if expected >= max_votes:
            return (2, False, expected, index)
        return (0, expected == 0, expected, index)

    return min(candidates, key=order, default=None)


def survey_now() -> dict:
    """What the rule needs, read from the logs themselves (not the tallies)."""
    classes = db.session.scalars(select(ImageClass.wnid).order_by(ImageClass.index)).all()
    voted: dict[int, set[str]] = {}
    annotators: dict[str, int] = {}
    for user_id, wnid in db.session.execute(select(Vote.annotator_id, Vote.class_wnid).distinct()):
        voted.setdefault(user_id, set()).add(wnid)
        annotators[wnid] = annotators.get(wnid, 0) + 1
    skipped: dict[int, set[str]] = {}
    for user_id, wnid in db.session.execute(select(Skip.annotator_id, Skip.class_wnid)):
        skipped.setdefault(user_id, set()).add(wnid)
    closed = set(db.session.scalars(select(ClassState.class_wnid).where(ClassState.closed)))
    holders: dict[str, set[int]] = {}  # those of holds that count: not lapsed, not voted on
    for hold in db.session.scalars(select(QueueHold)):
        if hold.held_until > utcnow() and hold.class_wnid not in voted.get(hold.annotator_id, ()):
            holders.setdefault(hold.class_wnid, set()).add(hold.annotator_id)
    return {
        "classes": classes,
        "voted": voted,
        "skipped": skipped,
        "annotators": annotators,
        "closed": closed,
        "holders": holders,
    }


def offers_by_definition() -> set[tuple]:
    """QueueOffer's rows as its docstring defines them, from the logs and the tallies:
    every account and every open class someone has voted on that the account has
    neither voted on nor skipped."""
    survey = survey_now()
    tallies = db.session.execute(
        select(ClassTally.class_wnid, ClassTally.annotators, ClassTally.class_index)
    ).all()
    offers = set()
    for user_id in db.session.scalars(select(User.id)):
        taken = survey["voted"].get(user_id, set()) | survey["skipped"].get(user_id, set())
        offers |= {
            (user_id, wnid, annotators, index)
            for wnid, annotators, index in tallies
            if annotators and wnid not in survey["closed"] and wnid not in taken
        }
    return offers


def offers_now() -> set[tuple]:
    columns = (
        QueueOffer.annotator_id,
        QueueOffer.class_wnid,
        QueueOffer.annotators,
        QueueOffer.class_index,
    )
    return {tuple(row) for row in db.session.execute(select(*columns))}


def toy_survey(app) -> list[int]:
    """Closed, started, voted, skipped and held classes among the ten: the annotators'
    ids."""
    users = [add_user(app, name) for name in ("ann", "bob", "cid", "dan", "eve")]
    ann, bob, cid, dan, _eve = users
    with app.app_context():
        c = db.session.scalars(select(ImageClass.wnid).order_by(ImageClass.index)).all()
        chain = {wnid: work_queue.hierarchy_from_db().chain_wnids(wnid) for wnid in c}
        votes = [
            (bob, c[0], c[0]),  # the first class closes by agreement
            (cid, c[0], c[0]),
            (cid, c[6], c[6]),  # and the seventh
            (dan, c[6], c[6]),
            (bob, c[3], c[3]),  # started, one vote
            (cid, c[2], c[2]),
            (bob, c[8], chain[c[8]][-1]),  # started, two votes that disagree
            (dan, c[8], chain[c[8]][-3]),
            (ann, c[1], c[1]),
            (ann, c[5], c[5]),
            (ann, c[1], chain[c[1]][-2]),  # a changed mind: the first vote no longer counts
        ]
        for user_id, wnid, synset in votes:
            record_vote(db.session.get(User, user_id), wnid, synset)
        later, lapsed = utcnow() + timedelta(minutes=5), utcnow() - timedelta(seconds=1)
        db.session.add_all(
            [
                Skip(annotator_id=ann, class_wnid=c[4]),
                Skip(annotator_id=dan, class_wnid=c[9]),
                Skip(annotator_id=bob, class_wnid=c[2]),
                QueueHold(annotator_id=_eve, class_wnid=c[1], held_until=later),
                QueueHold(annotator_id=cid, class_wnid=c[7], held_until=later),  # starts it
                QueueHold(annotator_id=ann, class_wnid=c[8], held_until=later),
                QueueHold(annotator_id=bob, class_wnid=c[3], held_until=later),  # voted on
                QueueHold(annotator_id=dan, class_wnid=c[4], held_until=lapsed),
            ]
        )
        db.session.commit()
        assert {c[0], c[6]} <= survey_now()["closed"]
        assert c[8] not in survey_now()["closed"]
    return users


def test_the_statements_give_the_rules_order(either_app):
    app = either_app
    users = toy_survey(app)
    for batch, max_votes in itertools.product((1, 2, 3, 4, 5, 8, 20), (5, 3)):
        with app.app_context():
            save_queue_settings({**queue_settings(), "QUEUE_BATCH": batch, "MAX_VOTES": max_votes})
        for user_id in users:
            with app.app_context():  # progress is kept per request (flask.g)
                survey = survey_now()
                wanted = expected_next(survey, user_id, batch, max_votes)
                assert work_queue.next_class(user_id) == wanted, (batch, max_votes, user_id)
                for wnid in survey["classes"]:
                    following = work_queue.around_class(user_id, wnid)[2]
                    besides = expected_next(survey, user_id, batch, max_votes, wnid)
                    assert following == besides, (batch, max_votes, user_id, wnid)
                progress = work_queue.progress(user_id)
                assert progress.complete == len(survey["closed"])
                assert progress.voted == len(survey["voted"].get(user_id, ()))


def test_the_offers_follow_votes_skips_states_and_accounts(either_app):
    """queue_offers, kept by migration 0009's triggers, holds what its definition says
    after votes, skips, a class closed and one reopened, a new account, and a vote and
    a skip taken back."""
    app = either_app
    ann, bob, *_ = toy_survey(app)
    with app.app_context():
        assert offers_now() == offers_by_definition()
        c = db.session.scalars(select(ImageClass.wnid).order_by(ImageClass.index)).all()
    add_user(app, "fay")
    with app.app_context():
        assert offers_now() == offers_by_definition()
        states = ClassState.__table__
        db.session.execute(states.update().where(states.c.class_wnid == c[8]).values(closed=True))
        db.session.execute(states.update().where(states.c.class_wnid == c[0]).values(closed=False))
        db.session.commit()
        assert offers_now() == offers_by_definition()
        db.session.execute(
            Vote.__table__.delete().where(Vote.annotator_id == bob, Vote.class_wnid == c[3])
        )
        db.session.execute(
            Skip.__table__.delete().where(Skip.annotator_id == ann, Skip.class_wnid == c[4])
        )
        db.session.commit()
        assert offers_now() == offers_by_definition()
        record_vote(db.session.get(User, bob), c[5], c[5])
        db.session.add(Skip(annotator_id=bob, class_wnid=c[6]))
        db.session.commit()
        assert offers_now() == offers_by_definition()


@contextmanager
def work_counted() -> Callable[[], int]:
    """The database's work while the block runs, on the session's connection: SQLite's
    virtual machine steps; PostgreSQL's rows and index entries read from the app's
    tables (the transaction's statistics)."""
    connection = db.session.connection()
    if connection.dialect.name == "sqlite":
        steps = [0]

        def step():
            steps[0] += 1
            return 0

        raw = connection.connection.driver_connection
        raw.set_progress_handler(step, 1)
        try:
            yield lambda: steps[0]
        finally:
            raw.set_progress_handler(None, 1)
        return
    read = text(
        "SELECT coalesce(sum(pg_stat_get_xact_tuples_returned(c.oid)), 0)::bigint "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public'"
    )
    before = connection.execute(read).scalar()
    yield lambda: connection.execute(read).scalar() - before


def queue_work(app, user_id: int, wnid: str) -> int:
    """The work of the annotate page's queue statements (next, around, progress)."""
    with app.app_context(), work_counted() as work:
        work_queue.next_class(user_id)
        work_queue.around_class(user_id, wnid)
        work_queue.progress(user_id)
        return work()


def test_the_queue_reads_about_its_batch_not_every_class(
    tmp_path, small_hierarchy, imagenet_hierarchy, database_url
):
    """The same survey (a few votes, a closed class, a skip) on ten classes and on a
    thousand: the queue's statements do about the same work on both (544 SQLite steps
    on each; 13 and 18 PostgreSQL rows). Before migration 0007 they read every class's
    row: 1,532 steps against 140,132; 57 rows against 4,017."""
    work = {}
    for name, hierarchy in (("small", small_hierarchy), ("large", imagenet_hierarchy)):
        folder = tmp_path / name
        folder.mkdir()
        url = database_url and f"{database_url}_{name}"
        app = seeded(make_app(folder, url, QUEUE_BATCH=3), hierarchy)
        users = [add_user(app, who) for who in ("ann", "bob")]
        with app.app_context():
            c = [image_class.wnid for image_class in hierarchy.classes]
            ann, bob = (db.session.get(User, user_id) for user_id in users)
            for user, wnid in ((ann, c[0]), (bob, c[0]), (ann, c[1]), (bob, c[2])):
                record_vote(user, wnid, wnid)
            db.session.add(Skip(annotator_id=ann.id, class_wnid=c[3]))
            db.session.commit()
        work[name] = queue_work(app, users[0], c[1])
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        if url:
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    assert work["large"] < 2 * work["small"], work


def test_the_migration_counts_what_is_already_there(either_app):
    """Migration 0007 on a database with votes, skips and closed classes: the closed
    flags and counts it fills in are the logs' own, and its triggers keep them."""
    app = either_app
    toy_survey(app)
    with app.app_context():
        before = survey_now()
        db.session.remove()
        downgrade(revision="0006")
        upgrade()
        marked = set(db.session.scalars(select(ClassTally.class_wnid).where(ClassTally.closed)))
        assert marked == before["closed"]
        assert db.session.scalar(select(QueueCount.closed_classes)) == len(before["closed"])
        voted = dict(
            db.session.execute(select(AnnotatorTally.annotator_id, AnnotatorTally.classes)).all()
        )
        assert voted == {user: len(classes) for user, classes in before["voted"].items()}
        assert offers_now() == offers_by_definition()  # migration 0009's
        # The triggers are back: a state written any way keeps both.
        db.session.execute(ClassState.__table__.update().values(closed=False))
        db.session.commit()
        assert not db.session.scalar(select(func.count()).where(ClassTally.closed))
        assert db.session.scalar(select(QueueCount.closed_classes)) == 0
        db.session.execute(ClassState.__table__.delete())
        db.session.execute(
            ClassState.__table__.insert(),
            [
                {"class_wnid": wnid, "votes": 2, "confidence": 0.9, "closed": True}
                | {"updated_at": utcnow(), "leader": wnid}
                for wnid in before["classes"][:3]
            ],
        )
        db.session.commit()
        marked = set(db.session.scalars(select(ClassTally.class_wnid).where(ClassTally.closed)))
        assert marked == set(before["classes"][:3])
        assert db.session.scalar(select(QueueCount.closed_classes)) == 3


def test_the_home_pages_votes_are_each_classs_latest_newest_first(either_app):
    users = toy_survey(either_app)
    with either_app.app_context():
        for user_id in users:
            latest = db.session.execute(
                select(func.max(Vote.id))
                .where(Vote.annotator_id == user_id)
                .group_by(Vote.class_wnid)
            ).scalars()
            wanted = sorted(latest, reverse=True)
            votes = LatestVotes(user_id)
            assert len(votes) == len(wanted)
            assert [vote.id for vote in votes[:]] == wanted
            assert [vote.id for vote in votes[1:2]] == wanted[1:2]


def home_work(app, user_id: int) -> int:
    """The work of the home page's reads of the annotator's votes and progress."""
    with app.app_context(), work_counted() as work:
        votes = LatestVotes(user_id)
        len(votes), votes[:50]
        work_queue.progress(user_id)
        return work()


def test_the_home_page_reads_its_page_of_votes_not_all_of_them(
    tmp_path, imagenet_hierarchy, database_url
):
    """An annotator's home after 60 votes and after 300 (a changed mind among them):
    the page of 50 and the counts cost the same (1,828 SQLite steps; 1,330 PostgreSQL
    rows). They grouped every vote by class before: 4,051 steps against 16,531; 246
    rows against 1,206."""
    app = seeded(make_app(tmp_path, database_url, VOTE_RATE_LIMIT=0), imagenet_hierarchy)
    ann = add_user(app, "ann")
    first = imagenet_hierarchy.classes[0].wnid
    change_of_mind = (30, first, imagenet_hierarchy.chain_wnids(first)[-2])
    work = work_after_votes(
        app, ann, imagenet_hierarchy, lambda: home_work(app, ann), change_of_mind
    )
    assert work[300] < 1.5 * work[60], work


def test_next_class_reads_its_offers_not_the_annotators_open_votes(
    tmp_path, imagenet_hierarchy, database_url
):
    """Where classes stay open after a vote (the closing rule's maximum not reached),
    the annotator's next class beyond the batch, another's started class, costs the
    same after 60 votes of theirs and after 300 (SQLite 242 steps at both; PostgreSQL
    12 rows at both). The queue walked every open class they had voted on before it:
    1,543 steps against 6,823; 129 rows against 609."""
    app = seeded(
        make_app(tmp_path, database_url, VOTE_RATE_LIMIT=0, **OPEN_AFTER_VOTES),
        imagenet_hierarchy,
    )
    ann, bob = add_user(app, "ann"), add_user(app, "bob")
    later = imagenet_hierarchy.classes[500].wnid
    with app.app_context():
        record_vote(db.session.get(User, bob), later, later)

    def next_and_work() -> tuple[str | None, int]:
        with app.app_context(), work_counted() as work:
            return work_queue.next_class(ann), work()

    work = work_after_votes(app, ann, imagenet_hierarchy, next_and_work)
    assert work[60][0] == work[300][0] == later
    assert work[300][1] < 1.5 * work[60][1], work


def work_after_votes(app, user_id: int, hierarchy, measure, change_of_mind=None) -> dict:
    """`measure()` after the annotator's 60th and 300th vote, one vote per class in
    class order; `change_of_mind` (after which vote, class, new synset) adds a vote."""
    classes = [image_class.wnid for image_class in hierarchy.classes]
    work = {}
    with app.app_context():
        user = db.session.get(User, user_id)
        for count, wnid in enumerate(classes[:300], start=1):
            record_vote(user, wnid, wnid)
            if change_of_mind and count == change_of_mind[0]:
                record_vote(user, *change_of_mind[1:])
            if count in (60, 300):
                work[count] = measure()
    return work


def previous_work(app, user_id: int, wnid: str) -> tuple[str | None, int]:
    """Where "previous" leads from the class, and the work of asking (its column of
    the annotate page's statement alone: "following" reads the started classes the
    annotator has voted on, which these are)."""
    previous = select(work_queue.AROUND_COLUMNS[0])
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            # The statistics autovacuum keeps: without them the planner takes the
            # young votes table for a row or two and reads all of them in any order.
            db.session.execute(text("ANALYZE votes"))
            db.session.commit()
    with app.app_context(), work_counted() as work:
        answer = db.session.execute(previous, {"user_id": user_id, "class_wnid": wnid})
        return answer.scalar(), work()


def test_previous_walks_back_from_the_class_not_from_the_newest_vote(
    tmp_path, imagenet_hierarchy, database_url
):
    """The "previous" of an early class of the annotator's voting order, after 60 votes
    and after 300, costs no more (SQLite 69 steps at both; PostgreSQL 66 and 7 rows).
    It walked every vote newer than the class's first: 689 steps against 3,569; 176
    rows against 298."""
    app = seeded(make_app(tmp_path, database_url, VOTE_RATE_LIMIT=0), imagenet_hierarchy)
    ann = add_user(app, "ann")
    classes = [image_class.wnid for image_class in imagenet_hierarchy.classes]
    work = work_after_votes(
        app, ann, imagenet_hierarchy, lambda: previous_work(app, ann, classes[10])
    )
    assert work[60][0] == work[300][0] == classes[9]
    assert work[300][1] < 1.5 * work[60][1], work


def test_a_vote_outside_the_form_does_not_walk_the_queue(tmp_path, imagenet_hierarchy):
    """Where a vote leads (the queue's next class, which walks the open classes the
    annotator voted on) is read with the vote's checks only for the vote form, which
    redirects there: a vote through the API or a script costs the same after 60 votes
    and after 300 (SQLite steps). Asked with every vote, it cost 2,465 steps after 60
    votes and 8,354 after 300."""
    app = seeded(make_app(tmp_path, VOTE_RATE_LIMIT=0), imagenet_hierarchy)
    ann = add_user(app, "ann")
    first = imagenet_hierarchy.classes[0].wnid
    chain = imagenet_hierarchy.chain_wnids(first)

    def vote_work() -> int:
        with app.app_context():
            user = db.session.get(User, ann)
            synset = chain[-1] if vote_work.count % 2 else chain[-2]
            vote_work.count += 1
            with work_counted() as work:
                record_vote(user, first, synset, comment=f"mind {vote_work.count}")
                return work()

    vote_work.count = 0
    work = work_after_votes(app, ann, imagenet_hierarchy, vote_work)
    assert work[300] < 1.5 * work[60], work
