"""class_tallies and annotator_tallies: the database's triggers keep the count of
annotators per class, and of classes per annotator, in step with the votes, whoever
writes them, on SQLite and PostgreSQL."""

import threading

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import delete, distinct, func, insert, select, text

from survey_app.extensions import db
from survey_app.models import AnnotatorTally, ClassTally, ImageClass, Vote
from survey_app.seeding import seed_hierarchy

from .conftest import add_user, make_app, seeded

TENCH, GOLDFISH = "n01440764", "n01443537"


def tallies() -> dict[str, int]:
    return dict(db.session.execute(select(ClassTally.class_wnid, ClassTally.annotators)).all())


def counted_from_votes() -> dict[str, int]:
    counted = dict(
        db.session.execute(
            select(Vote.class_wnid, func.count(distinct(Vote.annotator_id))).group_by(
                Vote.class_wnid
            )
        ).all()
    )
    return {wnid: counted.get(wnid, 0) for wnid in db.session.scalars(select(ImageClass.wnid))}


def annotator_tallies() -> dict[int, int]:
    """Each annotator's count of classes voted on, those without votes left out."""
    rows = db.session.execute(select(AnnotatorTally.annotator_id, AnnotatorTally.classes))
    return {annotator: classes for annotator, classes in rows if classes}


def annotators_counted_from_votes() -> dict[int, int]:
    count = func.count(distinct(Vote.class_wnid))
    return dict(
        db.session.execute(select(Vote.annotator_id, count).group_by(Vote.annotator_id)).all()
    )


def test_every_class_has_a_tally_in_index_order(either_app):
    with either_app.app_context():
        rows = db.session.execute(
            select(ClassTally.class_wnid, ClassTally.class_index, ClassTally.annotators)
        ).all()
        classes = dict(db.session.execute(select(ImageClass.wnid, ImageClass.index)).all())
        assert {wnid: index for wnid, index, _ in rows} == classes
        assert {annotators for *_, annotators in rows} == {0}


def test_tallies_follow_votes_written_any_way(either_app):
    ann, bob = add_user(either_app, "ann"), add_user(either_app, "bob")
    with either_app.app_context():
        db.session.execute(
            insert(Vote),
            [  # as a restore writes them: straight rows
                {"annotator_id": ann, "class_wnid": TENCH, "synset_wnid": TENCH},
                {
                    "annotator_id": ann,
                    "class_wnid": TENCH,
                    "synset_wnid": TENCH,
                    "comment": "a changed mind counts once",
                },
                {"annotator_id": bob, "class_wnid": TENCH, "synset_wnid": TENCH},
                {"annotator_id": bob, "class_wnid": GOLDFISH, "synset_wnid": GOLDFISH},
            ],
        )
        db.session.commit()
        assert tallies()[TENCH] == 2 and tallies()[GOLDFISH] == 1
        assert tallies() == counted_from_votes()
        assert annotator_tallies() == {ann: 1, bob: 2} == annotators_counted_from_votes()
        first = db.session.scalar(select(func.min(Vote.id)).where(Vote.annotator_id == ann))
        db.session.execute(delete(Vote).where(Vote.id == first))  # ann has another tench vote
        db.session.commit()
        assert tallies()[TENCH] == 2
        assert annotator_tallies() == {ann: 1, bob: 2}
        db.session.execute(delete(Vote).where(Vote.annotator_id == bob))
        db.session.commit()
        assert tallies()[TENCH] == 1 and tallies()[GOLDFISH] == 0
        assert tallies() == counted_from_votes()
        assert annotator_tallies() == {ann: 1} == annotators_counted_from_votes()


def test_a_rolled_back_vote_leaves_the_tally(either_app):
    ann = add_user(either_app, "ann")
    with either_app.app_context():
        db.session.add(Vote(annotator_id=ann, class_wnid=TENCH, synset_wnid=TENCH))
        db.session.flush()
        db.session.rollback()
        assert tallies()[TENCH] == 0


def test_the_migration_counts_the_votes_already_there(tmp_path, small_hierarchy):
    app = make_app(tmp_path)
    with app.app_context():
        upgrade(revision="0002")
        seed_hierarchy(small_hierarchy)
        # The users table as revision 0002 has it (the model has later columns).
        ann, bob = (
            db.session.execute(
                text(
                    "INSERT INTO users (username, role, active, created_at) "
                    "VALUES (:name, 'annotator', true, CURRENT_TIMESTAMP) RETURNING id"
                ),
                {"name": name},
            ).scalar_one()
            for name in ("ann", "bob")
        )
        db.session.execute(
            insert(Vote),
            [
                {"annotator_id": user, "class_wnid": wnid, "synset_wnid": wnid}
                for user, wnid in ((ann, TENCH), (ann, TENCH), (bob, TENCH), (bob, GOLDFISH))
            ],
        )
        db.session.commit()
        upgrade()
        assert tallies()[TENCH] == 2 and tallies() == counted_from_votes()
        db.session.remove()
        downgrade(revision="0002")
        upgrade()
        assert tallies() == counted_from_votes()


@pytest.mark.postgres
def test_simultaneous_first_votes_of_one_annotator_count_once(
    tmp_path, small_hierarchy, postgres_url
):
    """Two first votes of the same annotator on the same class, in transactions
    that overlap: the second waits for the first and does not count again."""
    app = seeded(make_app(tmp_path, postgres_url), small_hierarchy)
    ann = add_user(app, "ann")
    row = {"annotator_id": ann, "class_wnid": TENCH, "synset_wnid": TENCH}
    try:
        with app.app_context(), db.engine.connect() as first, db.engine.connect() as second:
            first.execute(insert(Vote), row)  # holds the tally's lock until it commits
            done = threading.Event()

            def vote_again() -> None:
                second.execute(insert(Vote), row)
                second.commit()
                done.set()

            thread = threading.Thread(target=vote_again)
            thread.start()
            assert not done.wait(0.5), "the second vote did not wait for the first"
            first.commit()
            thread.join(10)
            assert done.is_set()
            assert tallies()[TENCH] == 1
            assert annotator_tallies() == {ann: 1}
    finally:
        with app.app_context():
            db.engine.dispose()
