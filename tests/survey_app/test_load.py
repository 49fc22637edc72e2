"""The load test in its short mode: a few annotators for a few seconds against
gunicorn, on SQLite and on PostgreSQL, on a survey of all 1,000 ImageNet
classes; nothing acknowledged may be lost."""

import pytest

from benchmarks import load_votes

from .conftest import load_survey


def check(figures: dict) -> None:
    assert figures["acknowledged"] > 10
    assert figures["lost"] == 0
    assert figures["duplicated"] == 0
    assert figures["server_errors"] == 0


@pytest.mark.slow
def test_short_load_sqlite(tmp_path, imagenet_hierarchy):
    survey, names = load_survey(tmp_path, imagenet_hierarchy)
    figures = load_votes.measure("sqlite", survey, names, seconds=5, max_votes=100_000)
    check(figures)
    assert figures["integrity"] == "ok"


@pytest.mark.slow
@pytest.mark.postgres
def test_short_load_postgres(tmp_path, imagenet_hierarchy, postgres_url):
    survey, names = load_survey(tmp_path, imagenet_hierarchy, postgres_url)
    check(load_votes.measure("postgres", survey, names, seconds=5, max_votes=100_000))
