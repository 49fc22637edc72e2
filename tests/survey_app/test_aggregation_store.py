"""Aggregations kept on disk (`survey_app.aggregation_store`): a fresh process loads the
one another process computed, and computes afresh whenever anything it was computed
from differs. The work is counted as calls of `aggregate`, not timed."""

from __future__ import annotations

import json

import pytest

from clustering.cil import dumps_cil
from survey_app import aggregation, aggregation_store, class_states
from survey_app.caches import caches
from survey_app.extensions import db
from survey_app.models import SearchCount

from .conftest import make_app
from .test_aggregation_lag import vote
from .test_review import DALMATIAN, DOG, MAMMAL, PUG, add_votes


@pytest.fixture
def calls(monkeypatch) -> list[int]:
    """One item per aggregation computed, in any app."""
    counted: list[int] = []
    real = aggregation.aggregate
    monkeypatch.setattr(
        aggregation, "aggregate", lambda *a, **k: counted.append(1) or real(*a, **k)
    )
    return counted


@pytest.fixture
def voted(either_app):
    add_votes(either_app, [("v1", DALMATIAN, DOG, None), ("v2", DALMATIAN, DOG, None)])
    add_votes(either_app, [("v1", PUG, MAMMAL, None), ("v2", PUG, DOG, None)])
    return either_app


def fresh(app, tmp_path, **settings):
    """Another process on the same database and folder: nothing kept in memory."""
    config = {"AGGREGATION_STORE_SECONDS": 0.0, **settings}
    return make_app(tmp_path, app.config["SQLALCHEMY_DATABASE_URI"], **config)


def exported(app, **settings) -> tuple[str, str]:
    with app.app_context():
        result = aggregation.current_aggregation(**settings)
        report = json.dumps(result.report(), sort_keys=True)
        return dumps_cil(result.cil), report


def test_a_fresh_process_loads_the_aggregation_another_one_computed(voted, tmp_path, calls):
    first = fresh(voted, tmp_path)
    computed = exported(first)
    assert calls == [1]
    second = fresh(voted, tmp_path)
    assert exported(second) == computed
    assert calls == [1]  # loaded, not computed
    with first.app_context(), second.app_context():
        [kept_first] = caches(first).get("aggregations", None, dict).values()
        [kept_second] = caches(second).get("aggregations", None, dict).values()
    # The time it took where it was computed, which decides whether the review lags.
    assert kept_second.seconds == kept_first.seconds


def test_a_loaded_aggregation_shares_the_process_priors(voted, tmp_path):
    exported(fresh(voted, tmp_path))
    warm, cold = fresh(voted, tmp_path), fresh(voted, tmp_path)
    with warm.app_context():
        priors, suggestions = class_states.priors(), class_states.suggestions()
        aggregator = aggregation.current_aggregation().aggregator
        assert aggregator.priors is priors and aggregator.suggestions is suggestions
    with cold.app_context():  # the loaded ones become the process's
        aggregator = aggregation.current_aggregation().aggregator
        assert class_states.priors() is aggregator.priors
        assert class_states.suggestions() is aggregator.suggestions


def test_export_cil_in_a_fresh_process_loads_it(voted, tmp_path, calls):
    paths = [tmp_path / "first.json", tmp_path / "second.json"]
    for path in paths:
        result = fresh(voted, tmp_path).test_cli_runner().invoke(args=["export-cil", str(path)])
        assert result.exit_code == 0, result.output
    assert calls == [1]
    first, second = (json.loads(p.read_text()) for p in paths)
    assert first == second


def test_a_new_vote_is_computed_afresh(voted, tmp_path, calls):
    before = exported(fresh(voted, tmp_path))
    vote(voted, "v1", MAMMAL)
    after = exported(fresh(voted, tmp_path))
    assert calls == [1, 1] and after != before
    assert exported(fresh(voted, tmp_path)) == after and calls == [1, 1]


def test_other_settings_are_computed_afresh(voted, tmp_path, calls):
    exported(fresh(voted, tmp_path), min_votes=2)
    exported(fresh(voted, tmp_path), min_votes=3)
    exported(fresh(voted, tmp_path), min_votes=2, conflicts="other")
    assert calls == [1, 1, 1]
    exported(fresh(voted, tmp_path), min_votes=3)
    assert calls == [1, 1, 1]


def test_new_search_counts_are_computed_afresh(voted, tmp_path, calls):
    # The counts make the priors, which make the confidences.
    exported(fresh(voted, tmp_path))
    with voted.app_context():
        db.session.add(SearchCount(term="dalmatian", provider="web", count=10**9))
        db.session.commit()
    exported(fresh(voted, tmp_path))
    assert calls == [1, 1]


def test_a_damaged_file_is_computed_again(voted, tmp_path, calls):
    computed = exported(fresh(voted, tmp_path))
    [kept] = (tmp_path / "aggregations").glob("*.pickle")
    kept.write_bytes(kept.read_bytes()[:100])
    # The reports: the CILs' creation times are a second apart where the clock ticked.
    assert exported(fresh(voted, tmp_path))[1] == computed[1]
    assert calls == [1, 1]


def test_quick_aggregations_and_an_empty_setting_keep_nothing(voted, tmp_path, calls):
    exported(fresh(voted, tmp_path, AGGREGATION_STORE_SECONDS=60.0))
    exported(fresh(voted, tmp_path, AGGREGATION_STORE=""))
    exported(fresh(voted, tmp_path, AGGREGATION_STORE=""))
    assert calls == [1, 1, 1]
    assert not (tmp_path / "aggregations").exists()


def test_only_the_newest_files_are_kept(voted, tmp_path, calls, monkeypatch):
    monkeypatch.setattr(aggregation_store, "FILES_KEPT", 2)
    app = fresh(voted, tmp_path)
    for min_votes in (1, 2, 3):
        exported(app, min_votes=min_votes)
    assert len(list((tmp_path / "aggregations").glob("*.pickle"))) == 2
    exported(fresh(voted, tmp_path), min_votes=3)
    assert calls == [1, 1, 1]


def test_a_folder_that_cannot_be_written_only_costs_the_keeping(voted, tmp_path, calls):
    blocked = tmp_path / "a file"
    blocked.write_text("not a folder")
    store = str(blocked / "aggregations")
    computed = exported(fresh(voted, tmp_path, AGGREGATION_STORE=store))
    assert exported(fresh(voted, tmp_path, AGGREGATION_STORE=store))[1] == computed[1]
    assert calls == [1, 1]
    assert blocked.read_text() == "not a folder"


def test_a_vote_cast_while_it_is_computed_is_never_missed(voted, tmp_path, monkeypatch):
    calls = []
    real = aggregation.aggregate

    def vote_meanwhile(*args, **kwargs):
        if not calls:  # another process's vote, between the key's reading and the votes'
            vote(voted, "v2", MAMMAL)
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(aggregation, "aggregate", vote_meanwhile)
    exported(fresh(voted, tmp_path))
    with fresh(voted, tmp_path).app_context():
        result = aggregation.current_aggregation()
        assert result.cil.provenance["votes"]["rows"] == 5
    assert calls == [1, 1]  # what was kept, if anything, was not taken for the new state


@pytest.fixture
def digests(monkeypatch) -> list[int]:
    """One item per digest of the logs, the store's key."""
    counted: list[int] = []
    real = aggregation_store.dbread.log_digest
    monkeypatch.setattr(
        aggregation_store.dbread, "log_digest", lambda *a: counted.append(1) or real(*a)
    )
    return counted


def pickles(tmp_path) -> int:
    return len(list((tmp_path / "aggregations").glob("*.pickle")))


def test_a_process_computes_its_next_one_after_a_vote_without_the_store(
    voted, tmp_path, calls, digests, monkeypatch
):
    # The export after a vote: neither digesting the logs nor writing the file in the
    # request; a thread is asked to keep it on disk afterwards.
    asked = []
    monkeypatch.setattr(aggregation, "_keep_on_disk", asked.append)
    app = fresh(voted, tmp_path)
    exported(app)
    assert (calls, digests, asked) == ([1], [1], [])
    vote(voted, "v1", MAMMAL)
    exported(app)
    assert (calls, digests, pickles(tmp_path)) == ([1, 1], [1], 1)
    assert len(asked) == 1


def test_after_a_vote_a_thread_keeps_the_new_one_for_fresh_processes(voted, tmp_path, calls):
    app = fresh(voted, tmp_path)
    exported(app)
    for mind in (MAMMAL, DOG):
        vote(voted, "v1", mind)
        computed = exported(app)
        for thread in aggregation.keeping_threads(app):
            thread.join()
        assert exported(fresh(voted, tmp_path)) == computed  # loaded, not computed
    assert calls == [1, 1, 1] and pickles(tmp_path) == 3


def test_a_quick_aggregation_is_not_kept_after_a_vote_either(voted, tmp_path, calls):
    app = fresh(voted, tmp_path, AGGREGATION_STORE_SECONDS=60.0)
    exported(app)
    vote(voted, "v1", MAMMAL)
    exported(app)
    assert not aggregation.keeping_threads(app)
    assert not (tmp_path / "aggregations").exists()


def test_an_aggregation_the_logs_moved_past_is_not_kept(voted, tmp_path, calls, monkeypatch):
    asked = []
    monkeypatch.setattr(aggregation, "_keep_on_disk", asked.append)
    app = fresh(voted, tmp_path)
    exported(app)
    vote(voted, "v1", MAMMAL)
    exported(app)
    vote(voted, "v2", MAMMAL)  # another process's vote, before the thread keeps it
    app.extensions[aggregation.KEEPERS] = {asked[0]: None}
    aggregation._keep_latest(app, asked[0])
    assert pickles(tmp_path) == 1 and not app.extensions[aggregation.KEEPERS]
    with fresh(voted, tmp_path).app_context():
        assert aggregation.current_aggregation().cil.provenance["votes"]["rows"] == 6
    assert calls == [1, 1, 1]


def test_the_review_pages_rebuild_keeps_it_for_fresh_processes(voted, tmp_path, calls):
    app = fresh(voted, tmp_path, AGGREGATION_INLINE_SECONDS=0.0)
    with app.test_request_context():
        aggregation.current_aggregation(may_lag=True)
    vote(voted, "v1", MAMMAL)
    with app.test_request_context():
        aggregation.current_aggregation(may_lag=True)  # the kept one; a thread computes
    for thread in aggregation.rebuilding_threads(app):
        thread.join()
    assert calls == [1, 1]
    exported(fresh(voted, tmp_path))
    assert calls == [1, 1]  # loaded


def test_a_fresh_process_loads_the_priors_another_one_computed(voted, tmp_path, monkeypatch):
    computed = []
    real = class_states.entry_level_priors
    monkeypatch.setattr(
        class_states, "entry_level_priors", lambda *a: computed.append(1) or real(*a)
    )

    def priors(app):
        with app.app_context():
            return class_states.priors()

    first = priors(fresh(voted, tmp_path))
    assert priors(fresh(voted, tmp_path)) == first and computed == [1]
    with voted.app_context():
        db.session.add(SearchCount(term="dalmatian", provider="web", count=10**9))
        db.session.commit()
    assert priors(fresh(voted, tmp_path)) != first and computed == [1, 1]
    assert priors(fresh(voted, tmp_path, AGGREGATION_STORE="")) and computed == [1, 1, 1]
