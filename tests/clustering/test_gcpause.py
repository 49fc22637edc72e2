"""The cycle collector is paused while an aggregation runs and resumed after it, also
when it fails or overlaps another, and never resumed where it was off before."""

from __future__ import annotations

import gc

import pytest

from clustering.aggregate import aggregate
from clustering.gcpause import collector_paused
from clustering.votes import VotesError

from .toy_hierarchy import TENCH, toy_hierarchy
from .wnids import vote


@pytest.fixture
def collector_on():
    was = gc.isenabled()
    gc.enable()
    yield
    (gc.enable if was else gc.disable)()


def test_overlapping_pauses_resume_the_collector_when_the_last_ends(collector_on):
    first, second = collector_paused(), collector_paused()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert not gc.isenabled()
    second.__exit__(None, None, None)
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off(collector_on):
    gc.disable()
    with collector_paused():
        pass
    assert not gc.isenabled()


def test_aggregate_pauses_the_collector_and_resumes_it_after_bad_votes(collector_on):
    seen = []

    class Watching(dict):
        def get(self, key, default=None):
            seen.append(gc.isenabled())
            return super().get(key, default)

    hierarchy = toy_hierarchy()
    aggregate(
        hierarchy, [vote("a", TENCH, TENCH)], weighting="confidence", priors=Watching(other={})
    )
    assert seen == [False] and gc.isenabled()
    with pytest.raises(VotesError):
        aggregate(hierarchy, [vote("a", TENCH, "n99999999")])
    assert gc.isenabled()
