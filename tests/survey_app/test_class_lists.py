"""`flask setup` refuses a bad class list, naming the line, before anything is written."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, inspect

from .conftest import make_app

DOG, BEAGLE = "n02084071", "n02088364"


@pytest.fixture
def session_wordnet(wordnet, monkeypatch):
    # The session's WordNet, not a reader loaded again (seconds) by the command.
    monkeypatch.setattr("clustering.wordnet.ensure_wordnet", lambda *args, **kwargs: wordnet)


def stored_tables(tmp_path) -> list[str]:
    engine = create_engine(f"sqlite:///{tmp_path / 'test.sqlite3'}")
    try:
        return inspect(engine).get_table_names()
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("text", "named"),
    [
        (f"{DOG}\nn99999999\n", "line 2: n99999999 is not a WordNet 3.0 noun synset"),
        (f"{DOG}\nv01168486\n", "line 2: v01168486 is a verb's id"),
        (f"{DOG}\n{BEAGLE}\n{DOG}\n", f"{DOG} is listed on lines 1 and 3"),
    ],
)
@pytest.mark.parametrize("route", ["--classes", "CLASS_LIST"])
def test_setup_refuses_a_bad_class_list_before_writing(
    tmp_path, session_wordnet, text, named, route
):
    listing = tmp_path / "classes.txt"
    listing.write_text(text)
    by_option = route == "--classes"
    app = make_app(tmp_path, **({} if by_option else {"CLASS_LIST": str(listing)}))
    args = ["setup", "--classes", str(listing)] if by_option else ["setup"]
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert named in result.output
    assert stored_tables(tmp_path) == []  # not even the schema
    assert not (tmp_path / "hierarchy.json").exists()
