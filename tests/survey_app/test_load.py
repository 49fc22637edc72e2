"""The load test in its short mode: a few annotators for a few seconds against
gunicorn, on SQLite and on PostgreSQL; nothing acknowledged may be lost."""

import pytest

from benchmarks import load_votes


def check(figures: dict) -> None:
    assert figures["acknowledged"] > 10
    assert figures["lost"] == 0
    assert figures["duplicated"] == 0
    assert figures["server_errors"] == 0


@pytest.mark.slow
def test_short_load_sqlite():
    figures = load_votes.run("sqlite", annotators=8, seconds=5, max_votes=100_000, workers=2)
    check(figures)
    assert figures["integrity"] == "ok"


@pytest.mark.slow
@pytest.mark.postgres
def test_short_load_postgres():
    check(load_votes.run("postgres", annotators=8, seconds=5, max_votes=100_000, workers=2))
