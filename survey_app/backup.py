"""Annotators, votes and decisions as JSONL (`flask dump-data`, `flask
restore-data`), to move a survey between databases (SQLite <-> PostgreSQL) or
keep a backup.

One JSON object per line, with a `type` of `annotator`, `vote`, `decision` (a
class decision) or `label_decision` (`general`, `keep`, `merge`, `name`, as in
`clustering.votes`); people are referred to by username and classes and labels
by wnid, so a dump restores into any database seeded with the same hierarchy.
Format version 2 added the label decisions and the suggestion a vote was cast
beside; a version 1 dump restores as before.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import IO

from sqlalchemy import func, select

from clustering.hierarchy import Hierarchy
from clustering.votes import LabelDecision as LabelDecisionValue
from clustering.votes import label_decision_problems
from survey_app import class_states
from survey_app.accounts import ROLES, USERNAME_RE, USERNAME_RULE, valid_password_hash
from survey_app.database import hierarchy_from_db, require_class
from survey_app.errors import SurveyError, UnknownClass
from survey_app.extensions import db
from survey_app.models import Decision, LabelDecision, Meta, User, Vote, utcnow
from survey_app.votes import SUBMISSION_ID_RE, SUBMISSION_ID_RULE, clean_text

FORMAT = "cil-survey-dump"
FORMAT_VERSION = 2
KINDS = ("annotator", "vote", "decision", "label_decision")  # the types of line after the header


class RestoreError(SurveyError, ValueError):
    """A dump that cannot be restored; nothing was written."""


def _time(value: datetime) -> str:
    return value.isoformat(timespec="microseconds")


def dump_records() -> Iterator[dict]:
    """Every annotator, vote, class decision and label decision, in a stable order."""
    version = db.session.get(Meta, "hierarchy_version")
    yield {
        "type": "header",
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "hierarchy_version": version.value if version else None,
    }
    usernames = {}
    for user in db.session.scalars(select(User).order_by(User.id)):
        usernames[user.id] = user.username
        yield {
            "type": "annotator",
            "username": user.username,
            "role": user.role,
            "password_hash": user.password_hash,
            "active": user.active,
            "created_at": _time(user.created_at),
        }
    for vote in db.session.scalars(select(Vote).order_by(Vote.id)):
        yield {
            "type": "vote",
            "annotator": usernames[vote.annotator_id],
            "wnid": vote.class_wnid,
            "label": vote.synset_wnid,
            "time": _time(vote.created_at),
            "comment": vote.comment,
            "submission_id": vote.submission_id,
            "suggestion": vote.suggestion_wnid,
        }
    for decision in db.session.scalars(select(Decision).order_by(Decision.id)):
        yield {
            "type": "decision",
            "admin": usernames[decision.admin_id],
            "wnid": decision.class_wnid,
            "label": decision.synset_wnid,
            "time": _time(decision.created_at),
            "note": decision.note,
        }
    for decision in db.session.scalars(select(LabelDecision).order_by(LabelDecision.id)):
        yield {
            "type": "label_decision",
            "admin": usernames[decision.admin_id],
            "general": decision.general_wnid,
            "keep": decision.keep,
            "merge": decision.merge,
            "name": decision.name,
            "time": _time(decision.created_at),
            "note": decision.note,
        }


def write_dump(stream: IO[str]) -> dict[str, int]:
    written = dict.fromkeys(KINDS, 0)
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
        except RecursionError:
            raise RestoreError(f"line {number}: not JSON (nested too deeply)") from None
        if not isinstance(record, dict) or record.get("type") not in {"header", *KINDS}:
            raise RestoreError(
                f"line {number}: expected an object with a type of header, "
                f"{', '.join(KINDS[:-1])} or {KINDS[-1]}"
            )
        records.append((number, record))
    if not records or records[0][1]["type"] != "header" or records[0][1].get("format") != FORMAT:
        raise RestoreError(
            f"the first line must be the {FORMAT} header written by `flask dump-data`"
        )
    version = records[0][1].get("format_version")
    if not isinstance(version, int) or not 1 <= version <= FORMAT_VERSION:
        raise RestoreError(
            f"line {records[0][0]}: format version {version!r} is not one this app reads "
            f"(1 to {FORMAT_VERSION}); restore it with the version of the app that dumped it"
        )
    return records


class _Checker:
    """Reads the fields of one line of a dump, each checked as the app checks
    what it stores; every refusal names the line and the field."""

    def __init__(self, number: int, record: dict, now: datetime):
        self.number, self.record, self.now = number, record, now

    def refuse(self, key: str, problem: str) -> RestoreError:
        return RestoreError(f"line {self.number}, field {key!r}: {problem}")

    def field(self, key: str, kind: type = str, optional: bool = False):
        value = self.record.get(key)
        if value is None and optional:
            return None
        if not isinstance(value, kind):
            raise self.refuse(key, f"must be a {kind.__name__}")
        return value

    def username(self, key: str) -> str:
        value = self.field(key)
        if not USERNAME_RE.fullmatch(value):
            raise self.refuse(key, f"{value[:80]!r} is not a username ({USERNAME_RULE})")
        return value

    def time(self, key: str) -> datetime:
        """UTC without a zone, as the app stores times; an offset is converted,
        not dropped. A future time is refused: the app would order it before
        the rows written after the restore, the exports after them."""
        try:
            value = datetime.fromisoformat(self.field(key))
        except ValueError:
            raise self.refuse(key, "is not an ISO 8601 time") from None
        if value.tzinfo is not None:
            try:
                value = value.astimezone(UTC).replace(tzinfo=None)
            except OverflowError:  # "0001-01-01T00:00:00+14:00" is before the year 1 in UTC
                raise self.refuse(
                    key, f"{self.record[key]} is outside the years 1 to 9999 in UTC"
                ) from None
        if value > self.now:
            raise self.refuse(
                key,
                f"{value.isoformat()} UTC is in the future (this machine's "
                f"clock says {self.now.isoformat(timespec='seconds')})",
            )
        return value

    def text(self, key: str) -> str | None:
        try:
            return clean_text(self.field(key, optional=True), key)
        except ValueError as exc:
            raise self.refuse(key, str(exc)) from None

    def wnids(self, key: str) -> tuple[str, ...]:
        value = self.field(key, list)
        if not all(isinstance(wnid, str) for wnid in value):
            raise self.refuse(key, "must be a list of synset wnids")
        return tuple(value)


class _Restore:
    """What a restore has read so far: the users by name, the submission ids, and
    the vote and decision rows to write once every line has passed."""

    def __init__(self, hierarchy: Hierarchy) -> None:
        self.hierarchy = hierarchy
        self.existing = {u.username: u for u in db.session.scalars(select(User))}
        self.users = dict(self.existing)
        # usernames are one whatever their case
        self.names = {name.lower(): name for name in self.users}
        self.submissions: dict[str, int] = {}
        self.logs: list[tuple[datetime, int, Vote | Decision | LabelDecision]] = []
        self.counts = dict.fromkeys(KINDS, 0)

    def read(self, kind: str, check: _Checker) -> None:
        if kind == "annotator":
            self.annotator(check)
            return
        if kind == "label_decision":
            when, row = self.label_decision(check)
        else:
            when, row = self.class_row(kind, check)
        self.logs.append((when, check.number, row))
        self.counts[kind] += 1

    def annotator(self, check: _Checker) -> None:
        username = check.username("username")
        if username in self.existing:
            return  # already here (e.g. the admin who restores)
        if username.lower() in self.names:
            raise check.refuse(
                "username", f"{username!r} is already the name of {self.names[username.lower()]!r}"
            )
        role = check.field("role")
        if role not in ROLES:
            raise check.refuse("role", f"unknown role {role!r}")
        password_hash = check.field("password_hash", optional=True)
        if password_hash is not None and not valid_password_hash(password_hash):
            raise check.refuse("password_hash", "not a password hash this app can check")
        self.users[username] = User(
            username=username,
            role=role,
            password_hash=password_hash,
            active=check.field("active", bool),
            created_at=check.time("created_at"),
        )
        self.names[username.lower()] = username
        db.session.add(self.users[username])
        self.counts["annotator"] += 1

    def author(self, check: _Checker, key: str) -> User:
        """The line's annotator or admin, who must have come on an earlier line;
        only an admin decides, as on the review pages."""
        person = check.field(key)
        if person not in self.users:
            raise check.refuse(
                key, f"unknown user {person!r} (annotator lines must come before their votes)"
            )
        if key == "admin" and self.users[person].role != "admin":
            raise check.refuse(key, f"{person!r} is not an admin; only admins decide")
        return self.users[person]

    def class_row(self, kind: str, check: _Checker) -> tuple[datetime, Vote | Decision]:
        """A vote or a class decision: a class and a synset on its chain."""
        person = self.author(check, "annotator" if kind == "vote" else "admin")
        class_wnid = check.field("wnid")
        label = check.field("label")
        try:
            require_class(class_wnid)
        except UnknownClass as exc:
            raise check.refuse("wnid", str(exc)) from None
        if label not in self.hierarchy.chain_wnids(class_wnid):
            raise check.refuse("label", f"{label} is not on the chain of {class_wnid}")
        when = check.time("time")
        if kind == "decision":
            return when, Decision(
                admin=person,
                class_wnid=class_wnid,
                synset_wnid=label,
                created_at=when,
                note=check.text("note"),
            )
        return when, Vote(
            annotator=person,
            class_wnid=class_wnid,
            synset_wnid=label,
            created_at=when,
            comment=check.text("comment"),
            submission_id=self.submission_id(check),
            suggestion_wnid=self.suggestion(check, class_wnid),
        )

    def suggestion(self, check: _Checker, class_wnid: str) -> str | None:
        """The suggestion shown with a vote, which weighs it (absent in older dumps)."""
        suggestion = check.field("suggestion", optional=True)
        if suggestion is not None and suggestion not in self.hierarchy.chain_wnids(class_wnid):
            raise check.refuse("suggestion", f"{suggestion} is not on the chain of {class_wnid}")
        return suggestion

    def submission_id(self, check: _Checker) -> str | None:
        submission_id = check.field("submission_id", optional=True)
        if submission_id is None:
            return None
        if not re.fullmatch(SUBMISSION_ID_RE, submission_id):
            raise check.refuse("submission_id", f"has {SUBMISSION_ID_RULE}")
        if submission_id in self.submissions:
            raise check.refuse(
                "submission_id", f"the same as on line {self.submissions[submission_id]}"
            )
        self.submissions[submission_id] = check.number
        return submission_id

    def label_decision(self, check: _Checker) -> tuple[datetime, LabelDecision]:
        """A label decision, checked against the seeded hierarchy as
        `clustering.votes.label_decision_problems` checks a decisions file: its
        general label a synset, `keep` and `merge` synsets below it, each once,
        `name` a lemma of it. Whether it settles a conflict of today's votes is
        not asked: it did when it was made."""
        admin = self.author(check, "admin")
        general, keep, merge = check.field("general"), check.wnids("keep"), check.wnids("merge")
        name = check.field("name", optional=True)
        seen: set[str] = set()
        for key, wnids in (("keep", keep), ("merge", merge)):
            for wnid in wnids:
                if wnid in seen:
                    raise check.refuse(key, f"{wnid} is listed twice; a label is kept or merged")
                seen.add(wnid)
        if not seen:
            raise check.refuse("keep", "'keep' and 'merge' are both empty")
        value = LabelDecisionValue(admin.username, general, keep, merge, check.now, name)
        for key, problem in label_decision_problems(self.hierarchy, value):
            raise check.refuse(key, problem)
        when = check.time("time")
        return when, LabelDecision(
            admin=admin,
            general_wnid=general,
            keep=keep,
            merge=merge,
            name=name,
            created_at=when,
            note=check.text("note"),
        )


def restore_records(lines: list[str]) -> dict[str, int]:
    """Restore a dump into a seeded database that holds no votes or decisions
    yet. Everything is checked first and written in one transaction, so a bad
    dump changes nothing. Votes and decisions are written in the order of their
    times, so that their ids, by which the app finds the latest, and their
    times, by which the exports do, agree."""
    records = _parse(lines)
    stored = db.session.get(Meta, "hierarchy_version")
    header_version = records[0][1].get("hierarchy_version")
    if stored is None:
        raise RestoreError("the database is not seeded; run `flask setup` (or `flask seed`) first")
    if header_version and header_version != stored.value:
        raise RestoreError(
            f"the dump was made with hierarchy {header_version}, this database "
            f"holds {stored.value}: seed it from the same class list"
        )
    for model in (Vote, Decision, LabelDecision):
        if db.session.scalar(select(func.count()).select_from(model)):
            raise RestoreError(
                "the database already holds votes or decisions; restore into a "
                "freshly seeded database so nothing is mixed or lost"
            )
    restore = _Restore(hierarchy_from_db())
    now = utcnow()
    try:
        for number, record in records[1:]:
            restore.read(record["type"], _Checker(number, record, now))
        db.session.flush()  # the users first, whatever the order of the lines
        for _when, _number, row in sorted(restore.logs, key=lambda entry: entry[:2]):
            db.session.add(row)
            db.session.flush()  # one at a time, so ids follow times
        class_states.refresh_all()  # the queue's view of the restored votes
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return restore.counts
