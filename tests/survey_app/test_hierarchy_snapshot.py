"""The hierarchy kept in the store's folder (`survey_app.hierarchy_snapshot`): a fresh
process loads the one another process read, equal to what reading gives, and reads the
rows again whenever what it was read from differs. The work is counted as calls of
`read_hierarchy`, not timed."""

from __future__ import annotations

import json

import pytest

from clustering import dbread
from clustering.dbread import WORD_FACTS_KEY
from survey_app import aggregation, hierarchy_snapshot
from survey_app.database import hierarchy_from_db
from survey_app.extensions import db
from survey_app.models import Meta

from .conftest import make_app
from .test_aggregation_lag import vote
from .test_review import DALMATIAN, DOG, MAMMAL, PUG, add_votes


@pytest.fixture
def reads(monkeypatch) -> list[int]:
    """One item per hierarchy read from the database's rows, in any app; every
    hierarchy read is kept, however quick."""
    monkeypatch.setattr(hierarchy_snapshot, "KEEP_AFTER_SECONDS", 0.0)
    counted: list[int] = []
    real = dbread.read_hierarchy
    monkeypatch.setattr(dbread, "read_hierarchy", lambda *a: counted.append(1) or real(*a))
    return counted


def fresh_hierarchy(app, tmp_path, **settings):
    """The hierarchy of another process on the same database and folder."""
    other = make_app(tmp_path, app.config["SQLALCHEMY_DATABASE_URI"], **settings)
    with other.app_context():
        return hierarchy_from_db()


def test_a_fresh_process_loads_the_hierarchy_another_one_read(app, tmp_path, reads):
    first = fresh_hierarchy(app, tmp_path)
    second = fresh_hierarchy(app, tmp_path)
    assert reads == [1]
    assert second is not first
    assert second.to_dict() == first.to_dict() and second.version == first.version
    assert second.chain_wnids(second.classes[0].wnid) == first.chain_wnids(first.classes[0].wnid)


def test_new_word_facts_are_read_afresh(app, tmp_path, reads):
    fresh_hierarchy(app, tmp_path)
    with app.app_context():
        db.session.get(Meta, WORD_FACTS_KEY).value = "{}"  # the facts of another WordNet
        db.session.commit()
    assert not fresh_hierarchy(app, tmp_path).has_word_facts
    assert reads == [1, 1]


def test_a_damaged_file_is_read_again(app, tmp_path, reads):
    first = fresh_hierarchy(app, tmp_path)
    [kept] = (tmp_path / "aggregations").glob("*.hierarchy")
    kept.write_bytes(kept.read_bytes()[:100])
    assert fresh_hierarchy(app, tmp_path).to_dict() == first.to_dict()
    assert reads == [1, 1]


def test_without_a_folder_nothing_is_kept(app, tmp_path, reads):
    fresh_hierarchy(app, tmp_path, AGGREGATION_STORE="")
    fresh_hierarchy(app, tmp_path, AGGREGATION_STORE="")
    assert reads == [1, 1]
    assert not (tmp_path / "aggregations").exists()


def test_a_fresh_process_takes_what_the_last_aggregations_derived(app, tmp_path):
    """A fresh process's hierarchy holds what an earlier process's stored aggregation
    derived (the conflict search's answers among it), and its aggregation after votes
    cast since is the one a process with nothing kept computes."""
    add_votes(app, [("v1", DALMATIAN, DOG, None), ("v2", DALMATIAN, DOG, None)])
    add_votes(app, [("v1", PUG, MAMMAL, None), ("v2", PUG, MAMMAL, None)])
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    keeping = {"AGGREGATION_STORE_SECONDS": 0.0}
    with make_app(tmp_path, url, **keeping).app_context():
        aggregation.current_aggregation()
    assert len(list((tmp_path / "aggregations").glob("*.warm"))) == 1
    vote(app, "v1", MAMMAL)  # the dalmatian's label moves: a label is chosen no more

    def report(other) -> str:
        with other.app_context():
            return json.dumps(aggregation.current_aggregation().report(), sort_keys=True)

    warm = make_app(tmp_path, url, **keeping)
    with warm.app_context():
        hierarchy = hierarchy_from_db()
        assert "conflict_search" not in hierarchy.derived  # taken before computing
        hierarchy_snapshot.take_warm(hierarchy)
        assert "conflict_search" in hierarchy.derived
    assert report(warm) == report(make_app(tmp_path, url, AGGREGATION_STORE=""))


def test_a_fresh_process_that_loads_its_aggregation_takes_what_was_kept_with_it(
    app, tmp_path, monkeypatch
):
    """The derived values come with the loaded aggregation, sharing its objects: the
    warm file is never read, and the aggregation after a vote is a fresh process's."""
    add_votes(app, [("v1", DALMATIAN, DOG, None), ("v2", DALMATIAN, DOG, None)])
    add_votes(app, [("v1", PUG, MAMMAL, None), ("v2", PUG, MAMMAL, None)])
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    with make_app(tmp_path, url, AGGREGATION_STORE_SECONDS=0.0).app_context():
        aggregation.current_aggregation()
    taken = []
    real = hierarchy_snapshot.read
    monkeypatch.setattr(hierarchy_snapshot, "read", lambda name: taken.append(name) or real(name))
    with make_app(tmp_path, url).app_context():
        loaded = aggregation.current_aggregation()
        search = hierarchy_from_db().derived["conflict_search"]
        assert search.scores[PUG] is loaded.outcomes[PUG].scores  # one object, not two
        vote(app, "v1", MAMMAL)  # the dalmatian's label moves
        after = json.dumps(aggregation.current_aggregation().report(), sort_keys=True)
    assert not [name for name in taken if name.endswith(".warm")]
    with make_app(tmp_path, url, AGGREGATION_STORE="").app_context():
        assert json.dumps(aggregation.current_aggregation().report(), sort_keys=True) == after


def test_a_damaged_warm_file_is_passed_over(app, tmp_path):
    add_votes(app, [("v1", PUG, MAMMAL, None), ("v2", PUG, DOG, None)])
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    with make_app(tmp_path, url, AGGREGATION_STORE_SECONDS=0.0).app_context():
        aggregation.current_aggregation()
    [kept] = (tmp_path / "aggregations").glob("*.warm")
    kept.write_bytes(kept.read_bytes()[:100])
    other = make_app(tmp_path, url)
    with other.app_context():
        assert "conflict_search" not in hierarchy_from_db().derived
        assert aggregation.current_aggregation().cil.num_labels
