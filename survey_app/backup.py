"""`flask dump-data` and `flask restore-data`: annotators, votes and decisions as
JSONL, to move a survey between databases (SQLite <-> PostgreSQL) or keep a backup.

One JSON object per line, with a `type` of `annotator`, `vote` or `decision`;
people are referred to by username and classes and labels by wnid, so a dump
restores into any database seeded with the same hierarchy.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import IO

import click
from flask import Blueprint
from sqlalchemy import func, select

from survey_app.accounts import ROLES
from survey_app.extensions import db
from survey_app.models import Decision, Meta, User, Vote
from survey_app.seeding import hierarchy_from_db

bp = Blueprint("backup", __name__, cli_group=None)

FORMAT = "cil-survey-dump"
FORMAT_VERSION = 1


class RestoreError(ValueError):
    """A dump that cannot be restored; nothing was written."""


def _time(value: datetime) -> str:
    return value.isoformat(timespec="microseconds")


def dump_records() -> Iterator[dict]:
    """Every annotator, vote and decision, in a stable order."""
    version = db.session.get(Meta, "hierarchy_version")
    yield {"type": "header", "format": FORMAT, "format_version": FORMAT_VERSION,
           "hierarchy_version": version.value if version else None}
    usernames = {}
    for user in db.session.scalars(select(User).order_by(User.id)):
        usernames[user.id] = user.username
        yield {"type": "annotator", "username": user.username, "role": user.role,
               "password_hash": user.password_hash, "active": user.active,
               "created_at": _time(user.created_at)}
    for vote in db.session.scalars(select(Vote).order_by(Vote.id)):
        yield {"type": "vote", "annotator": usernames[vote.annotator_id],
               "wnid": vote.class_wnid, "label": vote.synset_wnid,
               "time": _time(vote.created_at), "comment": vote.comment,
               "submission_id": vote.submission_id}
    for decision in db.session.scalars(select(Decision).order_by(Decision.id)):
        yield {"type": "decision", "admin": usernames[decision.admin_id],
               "wnid": decision.class_wnid, "label": decision.synset_wnid,
               "time": _time(decision.created_at), "note": decision.note}


def write_dump(stream: IO[str]) -> dict[str, int]:
    written: dict[str, int] = {"annotator": 0, "vote": 0, "decision": 0}
    for record in dump_records():
        stream.write(json.dumps(record, sort_keys=True) + "\n")
        if record["type"] in written:
            written[record["type"]] += 1
    return written


def _parse(lines: list[str]) -> list[tuple[int, dict]]:
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise RestoreError(f"line {number}: not JSON ({exc.msg})") from None
        if not isinstance(record, dict) or record.get("type") not in {
                "header", "annotator", "vote", "decision"}:
            raise RestoreError(f"line {number}: expected an object with a type of header, "
                               "annotator, vote or decision")
        records.append((number, record))
    if not records or records[0][1]["type"] != "header" or records[0][1].get("format") != FORMAT:
        raise RestoreError(f"the first line must be the {FORMAT} header written by `flask dump-data`")
    return records


def _field(record: dict, key: str, number: int, kind=str, optional: bool = False):
    value = record.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, kind):
        raise RestoreError(f"line {number}: field {key!r} must be a {kind.__name__}")
    return value


def _when(record: dict, key: str, number: int) -> datetime:
    try:
        return datetime.fromisoformat(_field(record, key, number))
    except ValueError:
        raise RestoreError(f"line {number}: {key!r} is not an ISO 8601 time") from None


def restore_records(lines: list[str]) -> dict[str, int]:
    """Restore a dump into a seeded database that holds no votes or decisions
    yet. Everything is checked first and written in one transaction, so a bad
    dump changes nothing."""
    records = _parse(lines)
    stored = db.session.get(Meta, "hierarchy_version")
    header_version = records[0][1].get("hierarchy_version")
    if stored is None:
        raise RestoreError("the database is not seeded; run `flask setup` (or `flask seed`) first")
    if header_version and header_version != stored.value:
        raise RestoreError(f"the dump was made with hierarchy {header_version}, this database "
                           f"holds {stored.value}: seed it from the same class list")
    for model in (Vote, Decision):
        if db.session.scalar(select(func.count()).select_from(model)):
            raise RestoreError("the database already holds votes or decisions; restore into a "
                               "freshly seeded database so nothing is mixed or lost")
    hierarchy = hierarchy_from_db()
    users = {u.username: u for u in db.session.scalars(select(User))}
    counts = {"annotator": 0, "vote": 0, "decision": 0}
    try:
        for number, record in records[1:]:
            kind = record["type"]
            if kind == "annotator":
                username = _field(record, "username", number)
                if username in users:
                    continue  # already here (e.g. the admin who restores)
                role = _field(record, "role", number)
                if role not in ROLES:
                    raise RestoreError(f"line {number}: unknown role {role!r}")
                users[username] = User(
                    username=username, role=role,
                    password_hash=_field(record, "password_hash", number, optional=True),
                    active=_field(record, "active", number, bool),
                    created_at=_when(record, "created_at", number))
                db.session.add(users[username])
                counts[kind] += 1
                continue
            person = _field(record, "annotator" if kind == "vote" else "admin", number)
            if person not in users:
                raise RestoreError(f"line {number}: unknown user {person!r} (annotator lines "
                                   "must come before their votes)")
            class_wnid = _field(record, "wnid", number)
            label = _field(record, "label", number)
            if class_wnid not in hierarchy.class_index:
                raise RestoreError(f"line {number}: {class_wnid} is not a class of this survey")
            if label not in hierarchy.chain_wnids(class_wnid):
                raise RestoreError(f"line {number}: {label} is not on the chain of {class_wnid}")
            if kind == "vote":
                db.session.add(Vote(
                    annotator=users[person], class_wnid=class_wnid, synset_wnid=label,
                    created_at=_when(record, "time", number),
                    comment=_field(record, "comment", number, optional=True),
                    submission_id=_field(record, "submission_id", number, optional=True)))
            else:
                db.session.add(Decision(
                    admin=users[person], class_wnid=class_wnid, synset_wnid=label,
                    created_at=_when(record, "time", number),
                    note=_field(record, "note", number, optional=True)))
            counts[kind] += 1
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return counts


@bp.cli.command("dump-data")
@click.argument("path", type=click.Path(dir_okay=False, writable=True, path_type=Path))
def dump_command(path: Path) -> None:
    """Write annotators, votes and decisions to PATH as JSONL ('-' for stdout)."""
    if str(path) == "-":
        written = write_dump(click.get_text_stream("stdout"))
    else:
        with path.open("w") as stream:
            written = write_dump(stream)
    click.echo(f"dumped {written['annotator']} annotators, {written['vote']} votes, "
               f"{written['decision']} decisions", err=True)


@bp.cli.command("restore-data")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def restore_command(path: Path) -> None:
    """Restore a `dump-data` file into a freshly seeded database."""
    try:
        counts = restore_records(path.read_text().splitlines())
    except RestoreError as exc:
        raise click.ClickException(f"{path}: {exc}. Nothing was restored.") from None
    click.echo(f"restored {counts['annotator']} annotators, {counts['vote']} votes, "
               f"{counts['decision']} decisions")
