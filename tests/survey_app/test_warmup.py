"""What gunicorn's master computes before it forks the workers (survey_app/warmup.py,
gunicorn.conf.py): a worker's first annotate page then reads no hierarchy and runs no
prior model, its first review page computes no aggregation, and no database connection
is left open to be shared."""

from __future__ import annotations

import logging
import runpy
from pathlib import Path

import pytest

from clustering import dbread
from survey_app import aggregation, class_states, disagreements, hierarchy_snapshot
from survey_app.database import hierarchy_from_db
from survey_app.extensions import db
from survey_app.warmup import warm

from .conftest import add_user, log_in, make_app
from .test_review import DALMATIAN, DOG, MAMMAL, PUG, add_votes

ROOT = Path(__file__).resolve().parents[2]


def _first_page_work(app, monkeypatch) -> list[str]:
    """What the first annotate page of `app` computes of what the warm-up computes."""
    work: list[str] = []
    read, priors = dbread.read_hierarchy, class_states.entry_level_priors
    monkeypatch.setattr(dbread, "read_hierarchy", lambda *a: work.append("hierarchy") or read(*a))
    monkeypatch.setattr(
        class_states, "entry_level_priors", lambda *a: work.append("priors") or priors(*a)
    )
    client = log_in(app.test_client(), add_user(app, "ann"))
    path = client.get("/next").headers["Location"]
    assert client.get(path).status_code == 200
    return work


def test_a_warmed_process_serves_its_first_page_without_building(app, monkeypatch):
    warm(app)
    with app.app_context():
        assert db.engine.pool.checkedout() == 0
    assert _first_page_work(app, monkeypatch) == []


def test_a_cold_process_builds_on_its_first_page(app, monkeypatch):
    """The same count without the warm-up: what the warm-up saves the first request."""
    assert _first_page_work(app, monkeypatch) == ["hierarchy", "priors"]


def test_a_survey_not_set_up_is_left_cold(tmp_path):
    """Before `flask setup`, nothing is kept: an empty hierarchy kept by the master
    would outlive the seeding in every worker."""
    from survey_app.caches import caches

    app = make_app(tmp_path)
    warm(app)
    assert caches(app)._kept == {}


def test_gunicorn_loads_the_app_in_the_master_and_warms_it():
    settings = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert settings["preload_app"] is True
    assert callable(settings["when_ready"])


@pytest.fixture
def aggregations(monkeypatch) -> list[int]:
    """One entry per aggregation computed from here on."""
    calls: list[int] = []
    real = aggregation.aggregate
    monkeypatch.setattr(aggregation, "aggregate", lambda *a, **k: calls.append(1) or real(*a, **k))
    return calls


def test_a_warmed_process_answers_its_first_review_page_from_the_kept_aggregation(
    app, aggregations, monkeypatch
):
    add_votes(app, [("v1", DALMATIAN, DOG, None), ("v2", DALMATIAN, DOG, None)])
    warm(app)
    assert aggregations == [1]
    queues: list[int] = []
    real = disagreements._disagreement_queue
    monkeypatch.setattr(disagreements, "_disagreement_queue", lambda r: queues.append(1) or real(r))
    admin = log_in(app.test_client(), add_user(app, "boss", role="admin"))
    page = admin.get("/admin/review/")
    assert page.status_code == 200
    assert aggregations == [1]  # the warm-up's, kept
    assert queues == []  # and what the page shows of it, derived in the warm-up


def test_an_aggregation_that_fails_in_the_warm_up_leaves_the_server_to_start(
    app, monkeypatch, caplog
):
    def broken(*_args, **_kwargs):
        raise RuntimeError("no aggregation today")

    add_votes(app, [("v1", DALMATIAN, DOG, None), ("v2", DALMATIAN, DOG, None)])
    monkeypatch.setattr(aggregation, "aggregate", broken)
    with caplog.at_level(logging.ERROR):
        warm(app)  # no exception: gunicorn's master goes on to fork the workers
    assert "the aggregation was not computed before the workers start" in caplog.text
    with app.app_context():
        assert db.engine.pool.checkedout() == 0
    assert _first_page_work(app, monkeypatch) == []  # the rest was warmed


def test_a_warm_up_that_loads_the_aggregation_takes_what_was_kept_with_it(
    app, tmp_path, monkeypatch
):
    """Not the warm file as well: read first, its copies of the derived values stayed in
    the hierarchy beside the loaded aggregation's own (at 21,843 classes the master's
    peak was 502 MB against 411)."""
    add_votes(app, [("v1", DALMATIAN, DOG, None), ("v2", DALMATIAN, DOG, None)])
    add_votes(app, [("v1", PUG, MAMMAL, None), ("v2", PUG, MAMMAL, None)])
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    with make_app(tmp_path, url, AGGREGATION_STORE_SECONDS=0.0).app_context():
        aggregation.current_aggregation()  # kept on disk, with the warm file
    read: list[str] = []
    real = hierarchy_snapshot.read
    monkeypatch.setattr(hierarchy_snapshot, "read", lambda name: read.append(name) or real(name))
    fresh = make_app(tmp_path, url)
    warm(fresh)
    assert not [name for name in read if name.endswith(".warm")]
    with fresh.app_context():
        loaded = aggregation.current_aggregation()
        search = hierarchy_from_db().derived["conflict_search"]
        assert search.scores[PUG] is loaded.outcomes[PUG].scores  # one object, not two
