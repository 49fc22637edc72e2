"""Dump and restore: a survey moves between SQLite and PostgreSQL unchanged."""

import io
import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from survey_app.backup import RestoreError, restore_records, write_dump
from survey_app.extensions import db
from survey_app.models import Decision, User, Vote

from .conftest import make_app, seeded


def fill_survey(app) -> None:
    """Two annotators and an admin, changed minds, a comment with HTML, a decision."""
    start = datetime(2026, 1, 2, 3, 4, 5, 123456)
    with app.app_context():
        alice = User(username="alice", role="annotator", password_hash="scrypt:hash-a")
        bob = User(username="bob", role="annotator", password_hash=None, active=False)
        root = User(username="root", role="admin", password_hash="scrypt:hash-r")
        db.session.add_all([alice, bob, root])
        db.session.flush()
        rows = [
            (alice, "n02110341", "n02084071", None),   # dalmatian -> dog
            (alice, "n02110341", "n02110341", "<b>changed</b> my mind"),
            (bob, "n02110341", "n02084071", None),
            (bob, "n01440764", "n02512053", "fish ü"),  # tench -> fish
        ]
        for i, (user, wnid, label, comment) in enumerate(rows):
            db.session.add(Vote(annotator_id=user.id, class_wnid=wnid, synset_wnid=label,
                                comment=comment, created_at=start + timedelta(seconds=i),
                                submission_id=f"sub-{i}"))
        db.session.add(Decision(admin_id=root.id, class_wnid="n02110341",
                                synset_wnid="n02084071", note="dog it is",
                                created_at=start + timedelta(minutes=5)))
        db.session.commit()


def dump(app) -> str:
    with app.app_context():
        stream = io.StringIO()
        write_dump(stream)
        return stream.getvalue()


def restore(app, text: str) -> dict:
    with app.app_context():
        return restore_records(text.splitlines())


@pytest.mark.postgres
def test_round_trip_sqlite_postgres_sqlite(tmp_path, small_hierarchy, postgres_url):
    (tmp_path / "a").mkdir()
    (tmp_path / "c").mkdir()
    source = seeded(make_app(tmp_path / "a"), small_hierarchy)
    fill_survey(source)
    first = dump(source)
    assert [json.loads(line)["type"] for line in first.splitlines()].count("vote") == 4

    middle = seeded(make_app(tmp_path, postgres_url), small_hierarchy)
    assert restore(middle, first) == {"annotator": 3, "vote": 4, "decision": 1}
    second = dump(middle)
    with middle.app_context():
        db.engine.dispose()

    last = seeded(make_app(tmp_path / "c"), small_hierarchy)
    restore(last, second)
    assert dump(last) == second == first


def test_cli_dump_and_restore(tmp_path, app, small_hierarchy):
    fill_survey(app)
    path = tmp_path / "dump.jsonl"
    result = app.test_cli_runner().invoke(args=["dump-data", str(path)])
    assert result.exit_code == 0, result.output
    (tmp_path / "other").mkdir()
    other = seeded(make_app(tmp_path / "other"), small_hierarchy)
    result = other.test_cli_runner().invoke(args=["restore-data", str(path)])
    assert result.exit_code == 0, result.output
    assert "restored 3 annotators, 4 votes, 1 decisions" in result.output
    # A second restore would mix two surveys: refused, nothing added.
    again = other.test_cli_runner().invoke(args=["restore-data", str(path)])
    assert again.exit_code == 1 and "already holds votes" in again.output
    with other.app_context():
        assert db.session.scalar(select(func.count()).select_from(Vote)) == 4


@pytest.mark.parametrize("bad_line, message", [
    ("{not json", "not JSON"),
    (('{"type": "vote", "annotator": "alice", "wnid": "n02110341", "label": "n01440764",'
      ' "time": "2026-01-01T00:00:00"}'), "not on the chain"),
    (('{"type": "vote", "annotator": "zoe", "wnid": "n02110341", "label": "n02110341",'
      ' "time": "2026-01-01T00:00:00"}'), "unknown user"),
    (('{"type": "vote", "annotator": "alice", "wnid": "n99999999", "label": "n02110341",'
      ' "time": "2026-01-01T00:00:00"}'), "not a class"),
    (('{"type": "vote", "annotator": "alice", "wnid": "n02110341", "label": "n02110341",'
      ' "time": "yesterday"}'), "ISO 8601"),
])
def test_bad_dump_restores_nothing(tmp_path, app, small_hierarchy, bad_line, message):
    fill_survey(app)
    lines = dump(app).splitlines()
    lines.insert(4, bad_line)
    (tmp_path / "fresh").mkdir()
    fresh = seeded(make_app(tmp_path / "fresh"), small_hierarchy)
    with fresh.app_context():
        with pytest.raises(RestoreError, match=message):
            restore_records(lines)
        assert db.session.scalar(select(func.count()).select_from(User)) == 0
        assert db.session.scalar(select(func.count()).select_from(Vote)) == 0


def test_restore_needs_the_header(app):
    with app.app_context(), pytest.raises(RestoreError, match="header"):
        restore_records(['{"type": "annotator", "username": "x"}'])
