"""Dump and restore: a survey moves between SQLite and PostgreSQL unchanged."""

import io
import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from clustering.dbread import read_label_decisions
from survey_app.backup import RestoreError, restore_records, write_dump
from survey_app.config import secret_key
from survey_app.extensions import db
from survey_app.models import Decision, LabelDecision, User, Vote

from .conftest import make_app, seeded

HASH_A = "pbkdf2:sha256:1000$saltA$" + "a" * 64
HASH_R = "scrypt:32768:8:1$saltR$" + "b" * 128


DOG, PUG, DALMATIAN, TENCH = "n02084071", "n02110958", "n02110341", "n01440764"


def fill_survey(app) -> None:
    """Two annotators and an admin, changed minds, a comment with HTML, a class decision
    and a label decision."""
    start = datetime(2026, 1, 2, 3, 4, 5, 123456)
    with app.app_context():
        alice = User(username="alice", role="annotator", password_hash=HASH_A)
        bob = User(username="bob", role="annotator", password_hash=None, active=False)
        root = User(username="root", role="admin", password_hash=HASH_R)
        db.session.add_all([alice, bob, root])
        db.session.flush()
        rows = [
            (alice, "n02110341", "n02084071", None),  # dalmatian -> dog
            (alice, "n02110341", "n02110341", "<b>changed</b> my mind"),
            (bob, "n02110341", "n02084071", None),
            (bob, "n01440764", "n02512053", "fish ü"),  # tench -> fish
        ]
        for i, (user, wnid, label, comment) in enumerate(rows):
            db.session.add(
                Vote(
                    annotator_id=user.id,
                    class_wnid=wnid,
                    synset_wnid=label,
                    comment=comment,
                    created_at=start + timedelta(seconds=i),
                    submission_id=f"sub-{i:05d}",
                    suggestion_wnid="n02084071" if wnid == "n02110341" else None,
                )
            )
        db.session.add(
            Decision(
                admin_id=root.id,
                class_wnid="n02110341",
                synset_wnid="n02084071",
                note="dog it is",
                created_at=start + timedelta(minutes=5),
            )
        )
        db.session.add(
            LabelDecision(
                admin_id=root.id,
                general_wnid=DOG,
                keep_json=json.dumps([PUG]),
                merge_json=json.dumps([DALMATIAN]),
                name="domestic dog",
                note="a dalmatian is any dog",
                created_at=start + timedelta(minutes=6),
            )
        )
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
    votes = [r for r in map(json.loads, first.splitlines()) if r["type"] == "vote"]
    # The suggestion shown weighs a vote: a restored survey must aggregate as the old one.
    assert [vote["suggestion"] for vote in votes] == [DOG, DOG, DOG, None]

    (label_line,) = [
        r for r in map(json.loads, first.splitlines()) if r["type"] == "label_decision"
    ]
    assert label_line == {
        "type": "label_decision",
        "admin": "root",
        "general": DOG,
        "keep": [PUG],
        "merge": [DALMATIAN],
        "name": "domestic dog",
        "note": "a dalmatian is any dog",
        "time": "2026-01-02T03:10:05.123456",
    }

    middle = seeded(make_app(tmp_path, postgres_url), small_hierarchy)
    assert restore(middle, first) == {
        "annotator": 3,
        "vote": 4,
        "decision": 1,
        "label_decision": 1,
    }
    second = dump(middle)
    with middle.app_context():
        # Stored as rows the exports read, not only echoed back by the dump.
        (stored,) = read_label_decisions(db.session.connection())
        assert (stored.admin, stored.keep, stored.merge) == ("root", (PUG,), (DALMATIAN,))
        db.session.remove()
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
    assert "restored 3 annotators, 4 votes, 1 decisions, 1 label decisions" in result.output
    # A second restore would mix two surveys: refused, nothing added.
    again = other.test_cli_runner().invoke(args=["restore-data", str(path)])
    assert again.exit_code == 1 and "already holds votes" in again.output
    with other.app_context():
        assert db.session.scalar(select(func.count()).select_from(Vote)) == 4


@pytest.mark.parametrize(
    "bad_line, message",
    [
        ("{not json", "not JSON"),
        (
            (
                '{"type": "vote", "annotator": "alice", "wnid": "n02110341", "label": "n01440764",'
                ' "time": "2026-01-01T00:00:00"}'
            ),
            "not on the chain",
        ),
        (
            (
                '{"type": "vote", "annotator": "zoe", "wnid": "n02110341", "label": "n02110341",'
                ' "time": "2026-01-01T00:00:00"}'
            ),
            "unknown user",
        ),
        (
            (
                '{"type": "vote", "annotator": "alice", "wnid": "n99999999", "label": "n02110341",'
                ' "time": "2026-01-01T00:00:00"}'
            ),
            "not a class",
        ),
        (
            (
                '{"type": "vote", "annotator": "alice", "wnid": "n02110341", "label": "n02110341",'
                ' "time": "yesterday"}'
            ),
            "ISO 8601",
        ),
    ],
)
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


# --- hostile dump files ---------------------------------------------------------------
HEADER = {
    "type": "header",
    "format": "cil-survey-dump",
    "format_version": 1,
    "hierarchy_version": None,
}
ALICE = {
    "type": "annotator",
    "username": "alice",
    "role": "annotator",
    "password_hash": None,
    "active": True,
    "created_at": "2026-01-01T00:00:00",
}
ROOT = {**ALICE, "username": "root", "role": "admin"}
VOTE = {
    "type": "vote",
    "annotator": "alice",
    "wnid": "n02110341",
    "label": "n02084071",
    "time": "2026-01-02T00:00:00",
    "comment": None,
    "submission_id": "sub-00001",
}
DECISION = {
    "type": "decision",
    "admin": "root",
    "wnid": "n02110341",
    "label": "n02084071",
    "time": "2026-01-03T00:00:00",
    "note": None,
}
LABEL_DECISION = {
    "type": "label_decision",
    "admin": "root",
    "general": DOG,
    "keep": [PUG],
    "merge": [DALMATIAN],
    "name": "dog",
    "time": "2026-01-03T00:00:00",
    "note": None,
}


def dump_file(tmp_path, *records) -> str:
    path = tmp_path / "hostile.jsonl"
    path.write_text(
        "".join(
            (r if isinstance(r, str) else json.dumps(r)) + "\n"
            for r in (HEADER, ALICE, ROOT, *records)
        )
    )
    return str(path)


@pytest.mark.parametrize(
    "record, line, field",
    [
        ({**ALICE, "username": "<script>alert(1)</script>"}, 4, "username"),
        ({**ALICE, "username": "a" * 5000}, 4, "username"),
        ({**ALICE, "username": ""}, 4, "username"),
        ({**ALICE, "username": "bob "}, 4, "username"),
        ({**ALICE, "username": "Alice"}, 4, "username"),
        ({**ALICE, "username": "bob", "password_hash": "foo$bar$baz"}, 4, "password_hash"),
        (
            {**ALICE, "username": "bob", "password_hash": "scrypt:1073741824:8:1$s$00"},
            4,
            "password_hash",
        ),
        # werkzeug cannot check these (500 at login), or a check takes seconds: only the
        # methods and parameters the app writes are restored.
        *(
            ({**ALICE, "username": "bob", "password_hash": hostile}, 4, "password_hash")
            for hostile in (
                "scrypt:16:8:1$abcd$00ff",
                "scrypt:16:8:1$abcd$" + "0" * 128,
                "scrypt:1048576:1:1$abcd$" + "0" * 128,
                "scrypt:32768:32:15$abcd$" + "0" * 128,
                "scrypt:32768:8:1$abcd$" + "0" * 64,  # a digest of the wrong length
                "pbkdf2:shake_128:1000$abcd$" + "0" * 64,
                "pbkdf2:sha256:99999999$abcd$" + "0" * 64,
            )
        ),
        ({**ALICE, "username": "bob", "active": "yes"}, 4, "active"),
        ({**ALICE, "username": "bob", "role": "root"}, 4, "role"),
        ({**ALICE, "username": "bob", "created_at": "2999-01-01T00:00:00"}, 4, "created_at"),
        # Out of datetime's range once converted to UTC.
        ({**ALICE, "username": "bob", "created_at": "0001-01-01T00:00:00+14:00"}, 4, "created_at"),
        ({**ALICE, "username": "bob", "created_at": "9999-12-31T23:59:59-14:00"}, 4, "created_at"),
        ({**VOTE, "time": "0001-01-01T00:00:00+14:00"}, 4, "time"),
        ({**VOTE, "comment": "x" * 5028 + "\x00"}, 4, "comment"),
        ({**VOTE, "comment": "fine\x00"}, 4, "comment"),
        ({**VOTE, "submission_id": "../" * 72}, 4, "submission_id"),
        ({**VOTE, "submission_id": "sub-00001\n"}, 4, "submission_id"),
        ({**VOTE, "time": "2999-01-01T00:00:00"}, 4, "time"),
        ({**VOTE, "time": 20260101}, 4, "time"),
        ({**VOTE, "suggestion": "n01440764"}, 4, "suggestion"),  # a tench is off the chain
        ({**DECISION, "admin": "alice"}, 4, "admin"),
        ({**DECISION, "note": "\x00"}, 4, "note"),
        ({**DECISION, "time": "2999-01-01T00:00:00+00:00"}, 4, "time"),
        ({**LABEL_DECISION, "admin": "alice"}, 4, "admin"),  # no admin
        ({**LABEL_DECISION, "admin": "zoe"}, 4, "admin"),  # nobody
        ({**LABEL_DECISION, "general": "n09999999"}, 4, "general"),
        ({**LABEL_DECISION, "general": 5}, 4, "general"),
        ({**LABEL_DECISION, "keep": PUG}, 4, "keep"),  # not a list
        ({**LABEL_DECISION, "keep": [5]}, 4, "keep"),
        ({**LABEL_DECISION, "merge": [TENCH]}, 4, "merge"),  # a tench is no dog
        ({**LABEL_DECISION, "merge": [PUG]}, 4, "merge"),  # kept and merged
        ({**LABEL_DECISION, "keep": [], "merge": []}, 4, "keep"),
        ({**LABEL_DECISION, "name": "hound"}, 4, "name"),  # no lemma of dog
        ({**LABEL_DECISION, "note": "x" * 1001}, 4, "note"),
        ({**LABEL_DECISION, "time": "2999-01-01T00:00:00"}, 4, "time"),
        ({k: v for k, v in LABEL_DECISION.items() if k != "time"}, 4, "time"),
        ("[" * 100_000 + "]" * 100_000, 4, None),
    ],
)
def test_hostile_dump_is_refused_with_its_line_and_field(tmp_path, either_app, record, line, field):
    result = either_app.test_cli_runner().invoke(args=["restore-data", dump_file(tmp_path, record)])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and "Nothing was restored" in result.output
    assert f"line {line}" in result.output
    if field:
        assert f"field {field!r}" in result.output, result.output
    with either_app.app_context():
        for model in (User, Vote, Decision, LabelDecision):
            assert db.session.scalar(select(func.count()).select_from(model)) == 0


@pytest.mark.parametrize(
    "records, line, field",
    [
        ([VOTE, VOTE], 5, "submission_id"),  # the same submission twice
        ([ALICE], 4, "username"),  # the same annotator twice
    ],
)
def test_duplicates_in_a_dump_are_refused(tmp_path, either_app, records, line, field):
    result = either_app.test_cli_runner().invoke(
        args=["restore-data", dump_file(tmp_path, *records)]
    )
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert f"line {line}" in result.output and f"field {field!r}" in result.output


def test_a_label_decision_is_restored_in_time_order(tmp_path, app):
    """Restored like a class decision: in the order of the times, so the latest counts."""
    later = {**LABEL_DECISION, "keep": [], "merge": [PUG], "time": "2026-01-05T00:00:00"}
    result = app.test_cli_runner().invoke(
        args=["restore-data", dump_file(tmp_path, later, LABEL_DECISION)]
    )
    assert result.exit_code == 0, result.output
    assert "0 decisions, 2 label decisions" in result.output
    with app.app_context():
        rows = db.session.scalars(select(LabelDecision).order_by(LabelDecision.id)).all()
        assert [(r.merge_json, r.name) for r in rows] == [
            (f'["{DALMATIAN}"]', "dog"),
            (f'["{PUG}"]', "dog"),
        ]


def test_a_dump_of_a_later_format_is_refused(tmp_path, app):
    path = tmp_path / "future.jsonl"
    path.write_text(json.dumps({**HEADER, "format_version": 3}) + "\n")
    result = app.test_cli_runner().invoke(args=["restore-data", str(path)])
    assert result.exit_code == 1 and "format version 3 is not one this app reads" in result.output


def test_a_dump_that_is_not_utf8_is_refused(tmp_path, app):
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(json.dumps(HEADER).encode() + b"\n\xff\xfe\n")
    result = app.test_cli_runner().invoke(args=["restore-data", str(path)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "UTF-8" in result.output


def test_restore_keeps_time_zones_and_one_order(tmp_path, app):
    """Offsets are converted to UTC, not dropped; rows are stored in time order,
    so the app (which orders by id) and the exports (by time) agree on which
    vote and decision came last."""
    late = {**DECISION, "time": "2026-01-05T00:00:00", "label": "n02110341"}
    early = {**DECISION, "time": "2026-01-04T00:00:00"}
    shifted = {**VOTE, "time": "2026-01-02T05:30:00+05:30"}
    second = {**VOTE, "time": "2026-01-01T12:00:00", "submission_id": "sub-00002"}
    result = app.test_cli_runner().invoke(
        args=["restore-data", dump_file(tmp_path, late, early, shifted, second)]
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        decisions = db.session.scalars(select(Decision).order_by(Decision.id)).all()
        assert [d.created_at for d in decisions] == [datetime(2026, 1, 4), datetime(2026, 1, 5)]
        assert decisions[-1].synset_wnid == "n02110341"
        votes = db.session.scalars(select(Vote).order_by(Vote.id)).all()
        assert [v.created_at for v in votes] == [datetime(2026, 1, 1, 12), datetime(2026, 1, 2)]


# --- files that hold password hashes are private --------------------------------------
def mode(path) -> int:
    return path.stat().st_mode & 0o777


@pytest.mark.parametrize(
    "method", ["scrypt", "scrypt:16384:8:1", "pbkdf2", "pbkdf2:sha256:600000", "pbkdf2:sha512:1000"]
)
def test_the_hashes_the_app_writes_are_restored(tmp_path, app, method):
    """Werkzeug's default methods and the settings the README names: a dump of an app
    configured with any of them restores, and its passwords still work."""
    password_hash = generate_password_hash("correct horse", method=method)
    record = {**ALICE, "username": "bob", "password_hash": password_hash}
    result = app.test_cli_runner().invoke(args=["restore-data", dump_file(tmp_path, record)])
    assert result.exit_code == 0, result.output
    with app.app_context():
        stored = db.session.scalar(select(User.password_hash).where(User.username == "bob"))
    assert check_password_hash(stored, "correct horse")


@pytest.mark.parametrize(
    "method",
    [
        "scrypt",
        "scrypt:65536:8:1",
        "scrypt:131072:8:1",
        "scrypt:32768:16:1",
        "pbkdf2",
        "pbkdf2:sha512",
        "pbkdf2:sha256:2000000",
        "pbkdf2:sha1:1000",
    ],
)
def test_the_app_writes_only_hashes_it_restores(tmp_path, method):
    """A method whose hashes a restore would refuse stops the app at start; the method's
    text is read as werkzeug reads it (its hash, made here, agrees)."""
    from survey_app.accounts import valid_password_hash
    from survey_app.errors import SurveyError

    if valid_password_hash(generate_password_hash("", method=method)):
        make_app(tmp_path, PASSWORD_HASH_METHOD=method)
    else:
        with pytest.raises(SurveyError, match=f"CIL_PASSWORD_HASH_METHOD '{method}' writes"):
            make_app(tmp_path, PASSWORD_HASH_METHOD=method)


def test_dump_file_is_private(tmp_path, app):
    path = tmp_path / "dump.jsonl"
    path.write_text("old, readable by all")
    path.chmod(0o644)
    assert app.test_cli_runner().invoke(args=["dump-data", str(path)]).exit_code == 0
    assert mode(path) == 0o600
    fresh = tmp_path / "fresh.jsonl"
    assert app.test_cli_runner().invoke(args=["dump-data", str(fresh)]).exit_code == 0
    assert mode(fresh) == 0o600


def test_sqlite_database_is_private(tmp_path, small_hierarchy):
    seeded(make_app(tmp_path), small_hierarchy)
    for path in tmp_path.glob("test.sqlite3*"):  # the database, its WAL and shared memory
        assert mode(path) == 0o600, path


def test_secret_key_is_never_readable_by_others(tmp_path, monkeypatch):
    """Created private, not created readable and narrowed afterwards."""
    seen = []
    chmod = Path.chmod
    monkeypatch.setattr(Path, "chmod", lambda self, m: (seen.append(mode(self)), chmod(self, m)))
    monkeypatch.delenv("SECRET_KEY", raising=False)
    key = secret_key(str(tmp_path))
    assert len(key) == 64 and secret_key(str(tmp_path)) == key
    assert mode(tmp_path / "secret_key") == 0o600
    assert all(m & 0o077 == 0 for m in seen), [oct(m) for m in seen]
