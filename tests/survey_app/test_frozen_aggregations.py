"""A large aggregation is frozen out of the collector's full passes
(`survey_app.caches.freeze_survivors`), and for that to free it once replaced, it must
hold no reference cycles: refcounting alone then frees every object of it."""

from __future__ import annotations

import gc
import weakref

import pytest

from survey_app import aggregation
from survey_app.database import hierarchy_from_db

from .conftest import make_app
from .test_aggregation_lag import vote
from .test_review import DALMATIAN, DOG, MAMMAL, PUG, add_votes


@pytest.fixture
def voted(app):
    add_votes(app, [("v1", DALMATIAN, DOG, None), ("v2", DALMATIAN, DOG, None)])
    add_votes(app, [("v1", PUG, MAMMAL, "small"), ("v2", PUG, DOG, None)])
    return app


def test_a_large_aggregation_is_frozen(voted, monkeypatch):
    monkeypatch.setattr(aggregation, "FREEZE_CLASSES", 3)
    with voted.app_context():
        frozen = gc.get_freeze_count()
        result = aggregation.current_aggregation()
        assert gc.get_freeze_count() > frozen
        assert not any(o is result for o in gc.get_objects())  # no generation holds it


def test_a_small_one_is_not(voted):
    with voted.app_context():
        aggregation.current_aggregation()
        frozen = gc.get_freeze_count()
        vote(voted, "v1", MAMMAL)
        aggregation.current_aggregation()
        assert gc.get_freeze_count() <= frozen  # frozen objects freed, none added


def test_a_replaced_aggregation_is_freed_without_the_collector(voted):
    with voted.app_context():
        old = weakref.ref(aggregation.current_aggregation())
        vote(voted, "v1", MAMMAL)
        gc.collect()
        gc.set_debug(gc.DEBUG_SAVEALL)  # what the collector finds stays in gc.garbage
        try:
            aggregation.current_aggregation()  # replaces the kept one
            assert old() is None
            gc.collect()
            cyclic = [
                type(o).__qualname__
                for o in gc.garbage
                if type(o).__module__.startswith(("clustering", "survey_app"))
            ]
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
    assert cyclic == []


def test_a_large_aggregation_loaded_from_disk_is_frozen(voted, tmp_path, monkeypatch):
    # Collected before the loading rather than after (`aggregation._compute_and_keep`).
    monkeypatch.setattr(aggregation, "FREEZE_CLASSES", 3)
    url, keeping = voted.config["SQLALCHEMY_DATABASE_URI"], {"AGGREGATION_STORE_SECONDS": 0.0}
    with make_app(tmp_path, url, **keeping).app_context():
        computed = aggregation.current_aggregation()
    with make_app(tmp_path, url, **keeping).app_context():
        frozen = gc.get_freeze_count()
        result = aggregation.current_aggregation()
        assert result is not computed and result.report() == computed.report()
        assert gc.get_freeze_count() > frozen
        assert not any(o is result for o in gc.get_objects())


def test_a_loaded_aggregation_is_freed_once_replaced(voted, tmp_path, monkeypatch):
    # Frozen without a collection: nothing of the loading may hold it in a cycle.
    monkeypatch.setattr(aggregation, "FREEZE_CLASSES", 3)
    url, keeping = voted.config["SQLALCHEMY_DATABASE_URI"], {"AGGREGATION_STORE_SECONDS": 0.0}
    with make_app(tmp_path, url, **keeping).app_context():
        aggregation.current_aggregation()
    with make_app(tmp_path, url, **keeping).app_context():
        loaded = weakref.ref(aggregation.current_aggregation())
        vote(voted, "v1", MAMMAL)
        aggregation.current_aggregation()  # replaces the loaded one
        assert loaded() is None


def test_a_large_aggregation_is_collected_once_computed_or_loaded(voted, tmp_path, monkeypatch):
    # Before the loading where there is a file to load, else after the computing: once.
    monkeypatch.setattr(aggregation, "FREEZE_CLASSES", 3)
    url, keeping = voted.config["SQLALCHEMY_DATABASE_URI"], {"AGGREGATION_STORE_SECONDS": 0.0}
    collections: list[int] = []
    collect = gc.collect
    monkeypatch.setattr(gc, "collect", lambda *a: collections.append(1) or collect(*a))
    for _computed_then_loaded in range(2):
        with make_app(tmp_path, url, **keeping).app_context():
            hierarchy_from_db()  # its own collection, before the hierarchy is frozen
            collections.clear()
            aggregation.current_aggregation()
            assert collections == [1]
