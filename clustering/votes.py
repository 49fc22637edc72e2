"""Votes and admin decisions as plain values, and their JSON-lines files.

A votes file has one JSON object per line:

    {"annotator": "alice", "wnid": "n02110341", "label": "n02084071",
     "time": "2024-05-01T12:00:00+00:00", "comment": "a dog to anyone"}

`wnid` is the ImageNet class voted on, `label` the synset chosen for it (one
of the class's chain), `time` an ISO 8601 instant (UTC assumed when it has no
offset), `comment` optional. A decisions file is the same with `admin` in place
of `annotator` and `note` in place of `comment`.

The log is append-only: a changed mind is a later vote, and `latest_votes`
keeps each annotator's last vote per class. Readers refuse a malformed file as
a whole, listing every bad line by number, so a half-read log never produces a
CIL.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from clustering.errors import ProblemsError
from clustering.hierarchy import Hierarchy

__all__ = [
    "Decision",
    "Vote",
    "VotesError",
    "as_utc",
    "check_labels",
    "decisions_to_jsonl",
    "latest_decisions",
    "latest_votes",
    "parse_time",
    "read_decisions",
    "read_votes",
    "votes_to_jsonl",
    "write_decisions",
    "write_votes",
]


class VotesError(ProblemsError):
    """Votes or decisions that cannot be used; `problems` lists each, the message shows them."""


@dataclass(frozen=True)
class Vote:
    annotator: str
    wnid: str  # the class voted on
    label: str  # the synset chosen for it
    time: datetime  # timezone-aware, UTC
    comment: str | None = None


@dataclass(frozen=True)
class Decision:
    """An admin's settlement of a class; the latest per class overrides its votes."""

    admin: str
    wnid: str
    label: str
    time: datetime
    note: str | None = None


def as_utc(moment: datetime) -> datetime:
    """An aware UTC datetime; a naive one is taken as UTC, the survey database's convention."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def parse_time(value: str) -> datetime:
    """An ISO 8601 instant (`as_utc`)."""
    return as_utc(datetime.fromisoformat(value))


def _format_time(moment: datetime) -> str:
    return as_utc(moment).isoformat()


# --- the latest counts ------------------------------------------------------------------
def latest_votes(votes: Iterable[Vote]) -> list[Vote]:
    """Each annotator's latest vote per class; of two with the same time, the later in
    the input (the log's order) wins."""
    latest: dict[tuple[str, str], Vote] = {}
    for vote in votes:
        key = (vote.annotator, vote.wnid)
        if key not in latest or vote.time >= latest[key].time:
            latest[key] = vote
    return sorted(latest.values(), key=lambda v: (v.wnid, v.annotator))


def latest_decisions(decisions: Iterable[Decision]) -> dict[str, Decision]:
    """class wnid -> its latest decision (ties: the later in the input)."""
    latest: dict[str, Decision] = {}
    for decision in decisions:
        if decision.wnid not in latest or decision.time >= latest[decision.wnid].time:
            latest[decision.wnid] = decision
    return latest


def check_labels(
    hierarchy: Hierarchy,
    items: Iterable[Vote | Decision],
    where: Iterable[str] | None = None,
    source: str = "votes",
) -> None:
    """Refuse items for unknown classes or for synsets off the class's chain.

    `where` names each item in messages (e.g. "line 12"); by default its position.
    """
    problems = []
    names = iter(where) if where is not None else None
    for position, item in enumerate(items, start=1):
        place = next(names) if names is not None else f"item {position}"
        if item.wnid not in hierarchy.class_index:
            problems.append(
                f"{place}: {item.wnid} is not one of the hierarchy's "
                f"{len(hierarchy.classes)} classes"
            )
        elif item.label not in hierarchy.chain_wnids(item.wnid):
            known = (
                f"{item.label} ({hierarchy.label(item.label)})"
                if item.label in hierarchy.synsets
                else item.label
            )
            problems.append(
                f"{place}: label {known} is not on the chain of class {item.wnid} "
                f"({hierarchy.label(item.wnid)}); choose one of its ancestors or "
                "the class itself"
            )
    if problems:
        raise VotesError(source, problems)


# --- JSON lines -------------------------------------------------------------------------
_VOTE_KEYS = {"annotator": "annotator", "comment": "comment"}
_DECISION_KEYS = {"annotator": "admin", "comment": "note"}


def read_votes(path: str | Path, hierarchy: Hierarchy | None = None) -> list[Vote]:
    """The votes in a JSON-lines file, in file order; with `hierarchy`, also checked
    against it (`check_labels`), with line numbers in the messages."""
    return _read(path, hierarchy, Vote, _VOTE_KEYS)


def read_decisions(path: str | Path, hierarchy: Hierarchy | None = None) -> list[Decision]:
    """The admin decisions in a JSON-lines file (`admin`, `wnid`, `label`, `time`, `note`)."""
    return _read(path, hierarchy, Decision, _DECISION_KEYS)


def _read(
    path: str | Path, hierarchy: Hierarchy | None, kind: type, keys: dict[str, str]
) -> list[Any]:
    path = Path(path)
    who, remark = keys["annotator"], keys["comment"]
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise VotesError(str(path), ["the file does not exist"]) from None
    except UnicodeDecodeError as exc:
        raise VotesError(str(path), [f"not UTF-8 text: {exc}"]) from None
    items, numbers, problems = [], [], []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"line {number}: not JSON ({exc.msg})")
            continue
        if not isinstance(record, dict):
            problems.append(f"line {number}: expected a JSON object, found {line[:60]!r}")
            continue
        wrong = [
            f"{key!r} must be a non-empty string"
            for key in (who, "wnid", "label", "time")
            if not isinstance(record.get(key), str) or not record[key].strip()
        ]
        if record.get(remark) is not None and not isinstance(record[remark], str):
            wrong.append(f"{remark!r} must be a string when present")
        unknown = sorted(set(record) - {who, "wnid", "label", "time", remark})
        if unknown:
            wrong.append(f"unknown key(s) {', '.join(map(repr, unknown))}")
        moment = None
        if not wrong:
            try:
                moment = parse_time(record["time"])
            except ValueError:
                wrong.append(
                    f"time {record['time']!r} is not ISO 8601 (like 2024-05-01T12:00:00+00:00)"
                )
        if wrong:
            problems.append(f"line {number}: {'; '.join(wrong)}")
            continue
        items.append(kind(record[who], record["wnid"], record["label"], moment, record.get(remark)))
        numbers.append(f"line {number}")
    if problems:
        raise VotesError(str(path), problems)
    if hierarchy is not None:
        check_labels(hierarchy, items, numbers, str(path))
    return items


def votes_to_jsonl(votes: Iterable[Vote]) -> str:
    """The votes as JSON lines (sorted keys; `comment` only where there is one)."""
    return "".join(_line(v.annotator, v, v.comment, _VOTE_KEYS) for v in votes)


def write_votes(votes: Iterable[Vote], path: str | Path) -> None:
    Path(path).write_text(votes_to_jsonl(votes), encoding="utf-8")


def decisions_to_jsonl(decisions: Iterable[Decision]) -> str:
    """The decisions as JSON lines (`admin`, `wnid`, `label`, `time`, `note`)."""
    return "".join(_line(d.admin, d, d.note, _DECISION_KEYS) for d in decisions)


def write_decisions(decisions: Iterable[Decision], path: str | Path) -> None:
    Path(path).write_text(decisions_to_jsonl(decisions), encoding="utf-8")


def _line(who: str, item: Vote | Decision, remark: str | None, keys: dict[str, str]) -> str:
    record = {
        keys["annotator"]: who,
        "wnid": item.wnid,
        "label": item.label,
        "time": _format_time(item.time),
    }
    if remark:
        record[keys["comment"]] = remark
    return json.dumps(record, sort_keys=True, ensure_ascii=False) + "\n"
