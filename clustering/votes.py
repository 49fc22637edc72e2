"""Votes and admin decisions as plain values, and their JSON-lines files.

A votes file has one JSON object per line:

    {"annotator": "alice", "wnid": "n02110341", "label": "n02084071",
     "time": "2024-05-01T12:00:00+00:00", "comment": "a dog to anyone"}

`wnid` is the ImageNet class voted on, `label` the synset chosen for it (one
of the class's chain), `time` an ISO 8601 instant (UTC assumed when it has no
offset), `comment` optional, and `suggestion` (optional) the synset the survey
suggested when the vote was cast, absent where it was hidden.

A decisions file holds two kinds of line. A *class decision* settles one class,
and is a vote's line with `admin` in place of `annotator` and `note` in place
of `comment`. A *label decision* settles a label conflict in one act:

    {"admin": "root", "general": "n07829412", "keep": ["n07838073"],
     "merge": ["n07830593"], "name": "sauce", "time": "2024-05-02T09:00:00+00:00",
     "note": "carbonara is a dish of its own"}

`general` is the conflict's general label (a synset), `keep` and `merge` list
chosen labels below it (synsets under `general`, each at most once over both):
those in `merge` go into `general`, those in `keep` stay beside it, and the
rest of `general` is then "other NAME", `name` being one of its lemmas
(optional; its first lemma by default). `note` is optional. A line is a label
decision when it has `general`, a class decision when it has `wnid`; anything
else is refused with its line number.

The log is append-only: a changed mind is a later vote, and `latest_votes`
keeps each annotator's last vote per class. Readers refuse a malformed file as
a whole, listing every bad line by number, so a half-read log never produces a
CIL.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from clustering.cil import normalize_name, plain_lemmas
from clustering.errors import ProblemsError
from clustering.hierarchy import Hierarchy

__all__ = [
    "Decision",
    "LabelDecision",
    "Vote",
    "VotesError",
    "as_utc",
    "check_label_decisions",
    "check_labels",
    "decisions_to_jsonl",
    "label_decision_problems",
    "label_decision_record",
    "latest_decisions",
    "latest_votes",
    "parse_time",
    "read_decisions",
    "read_votes",
    "split_decisions",
    "votes_to_jsonl",
    "write_decisions",
    "write_votes",
]


class VotesError(ProblemsError):
    """Votes or decisions that cannot be used; `problems` lists each, the message shows them."""


@dataclass(frozen=True, slots=True)
class Vote:
    annotator: str
    wnid: str  # the class voted on
    label: str  # the synset chosen for it
    time: datetime  # timezone-aware, UTC
    comment: str | None = None
    # The suggestion the annotator was shown (pre-selected or marked) when voting; None
    # when it was hidden or is not known. See `clustering.confidence`.
    suggestion: str | None = None

    def __reduce__(self):
        # The aggregation store pickles 65,000 votes at 21,843 classes, and the pickler
        # remembers every object it writes: as its fields and its time in microseconds
        # (an int, not remembered), a vote is 2 objects, not 5 (a state, a datetime, its
        # arguments and bytes).
        notes = (self.comment, self.suggestion)
        if self.time.tzinfo is not UTC:
            return Vote, (self.annotator, self.wnid, self.label, self.time, *notes)
        since = (self.time - _EPOCH) // _MICROSECOND
        return _utc_vote, (self.annotator, self.wnid, self.label, since, *notes)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _utc_vote(annotator: str, wnid: str, label: str, since: int, *notes) -> Vote:
    """A pickled vote (`Vote.__reduce__`), its time `since` microseconds after the epoch."""
    return Vote(annotator, wnid, label, _EPOCH + timedelta(microseconds=since), *notes)


@dataclass(frozen=True)
class Decision:
    """An admin's settlement of a class; the latest per class overrides its votes."""

    admin: str
    wnid: str
    label: str
    time: datetime
    note: str | None = None


@dataclass(frozen=True)
class LabelDecision:
    """An admin's settlement of a label conflict (see the module's docstring): the
    labels in `merge` go into `general`, those in `keep` stay beside it as labels of
    their own, and the rest of `general` is named "other `name`". For each label
    below a general label, the latest label decision that names it counts."""

    admin: str
    general: str
    keep: tuple[str, ...]
    merge: tuple[str, ...]
    time: datetime
    name: str | None = None  # a lemma of `general`; None: its first lemma
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
    classes, chain = hierarchy.class_index, hierarchy.chain
    for position, item in enumerate(items, start=1):
        name = next(names) if names is not None else None
        # Most items are sound: their place is written only for a problem (65,000 votes
        # at 21,843 classes, checked at every aggregation).
        if (
            item.wnid in classes
            and item.label in (on_chain := chain(item.wnid))
            and (not isinstance(item, Vote) or not item.suggestion or item.suggestion in on_chain)
        ):
            continue
        place = name if names is not None else f"item {position}"
        if item.wnid not in hierarchy.class_index:
            problems.append(
                f"{place}: {item.wnid} is not one of the hierarchy's "
                f"{len(hierarchy.classes)} classes"
            )
        elif (
            isinstance(item, Vote)
            and item.suggestion
            and (item.suggestion not in hierarchy.chain(item.wnid))
        ):
            problems.append(
                f"{place}: suggestion {item.suggestion} is not on the chain of class "
                f"{item.wnid} ({hierarchy.label(item.wnid)})"
            )
        elif item.label not in hierarchy.chain(item.wnid):
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


def check_label_decisions(
    hierarchy: Hierarchy,
    items: Iterable[LabelDecision],
    where: Iterable[str] | None = None,
    source: str = "decisions",
) -> None:
    """Refuse label decisions whose general label is no synset of the hierarchy, whose
    `keep` or `merge` names a synset not below it (or one twice), or whose `name` is not
    a lemma of it; `where` names each item in messages, by default its position."""
    problems = []
    names = iter(where) if where is not None else None
    for position, item in enumerate(items, start=1):
        place = next(names) if names is not None else f"item {position}"
        problems.extend(
            f"{place}: {field}: {problem}"
            for field, problem in label_decision_problems(hierarchy, item)
        )
    if problems:
        raise VotesError(source, problems)


def label_decision_problems(hierarchy: Hierarchy, item: LabelDecision) -> list[tuple[str, str]]:
    """(field, what is wrong with it) for one label decision against the hierarchy, the
    fields being the file's keys; empty when nothing is."""
    if item.general not in hierarchy.synsets:
        return [("general", f"{item.general} is not a synset of the hierarchy")]
    general = f"{item.general} ({hierarchy.label(item.general)})"
    problems = []
    listed = [*item.keep, *item.merge]
    if not listed:
        problems.append(("keep", "'keep' and 'merge' are both empty: name the labels below it"))
    for wnid in sorted({w for w in listed if listed.count(w) > 1}):
        problems.append(("merge", f"{wnid} is listed more than once in 'keep' and 'merge'"))
    for field_name, wnids in (("keep", item.keep), ("merge", item.merge)):
        for wnid in wnids:
            if wnid not in hierarchy.synsets:
                problems.append((field_name, f"{wnid} is not a synset of the hierarchy"))
            elif item.general not in hierarchy.ancestors(wnid):
                problems.append(
                    (
                        field_name,
                        f"{wnid} ({hierarchy.label(wnid)}) is not below the general label {general}",
                    )
                )
    if item.name is not None and normalize_name(item.name) not in plain_lemmas(
        hierarchy, item.general
    ):
        lemmas = ", ".join(
            repr(lemma.replace("_", " ")) for lemma in hierarchy.synsets[item.general].lemmas
        )
        problems.append(
            ("name", f"{item.name!r} is not a lemma of {general}; choose one of {lemmas}")
        )
    return problems


# --- JSON lines -------------------------------------------------------------------------
_VOTE_KEYS = {"annotator": "annotator", "comment": "comment"}
_DECISION_KEYS = {"annotator": "admin", "comment": "note"}


def read_votes(path: str | Path, hierarchy: Hierarchy | None = None) -> list[Vote]:
    """The votes in a JSON-lines file, in file order; with `hierarchy`, also checked
    against it (`check_labels`), with line numbers in the messages."""
    return _read(path, hierarchy, _VOTE_KEYS, decisions=False)


def read_decisions(
    path: str | Path, hierarchy: Hierarchy | None = None
) -> list[Decision | LabelDecision]:
    """The admin decisions in a JSON-lines file, in file order: class decisions
    (`admin`, `wnid`, `label`, `time`, `note`) and label decisions (`admin`,
    `general`, `keep`, `merge`, `name`, `time`, `note`); see the module's docstring."""
    return _read(path, hierarchy, _DECISION_KEYS, decisions=True)


def split_decisions(
    decisions: Iterable[Decision | LabelDecision],
) -> tuple[list[Decision], list[LabelDecision]]:
    """(class decisions, label decisions), each in the given order."""
    classes: list[Decision] = []
    labels: list[LabelDecision] = []
    for decision in decisions:
        (labels if isinstance(decision, LabelDecision) else classes).append(decision)
    return classes, labels


def _read(
    path: str | Path, hierarchy: Hierarchy | None, keys: dict[str, str], decisions: bool
) -> list[Any]:
    path = Path(path)
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
        if decisions and "general" in record:
            item, wrong = _label_decision(record)
        elif decisions and "wnid" not in record:
            item, wrong = None, [_NEITHER]
        else:
            item, wrong = _class_record(record, keys, Decision if decisions else Vote)
        if wrong:
            problems.append(f"line {number}: {'; '.join(wrong)}")
            continue
        items.append(item)
        numbers.append(f"line {number}")
    if problems:
        raise VotesError(str(path), problems)
    if hierarchy is not None:
        by_class = [
            (i, n) for i, n in zip(items, numbers, strict=True) if not isinstance(i, LabelDecision)
        ]
        by_label = [
            (i, n) for i, n in zip(items, numbers, strict=True) if isinstance(i, LabelDecision)
        ]
        problems = []
        for check, pairs in ((check_labels, by_class), (check_label_decisions, by_label)):
            try:
                check(hierarchy, [i for i, _ in pairs], [n for _, n in pairs], str(path))
            except VotesError as exc:
                problems.extend(exc.problems)
        if problems:
            raise VotesError(str(path), sorted(problems, key=_line_number))
    return items


def _line_number(problem: str) -> int:
    return int(problem.split(":", 1)[0].removeprefix("line "))


def _parse_time(record: dict, wrong: list[str]) -> datetime | None:
    try:
        return parse_time(record["time"])
    except ValueError:
        wrong.append(f"time {record['time']!r} is not ISO 8601 (like 2024-05-01T12:00:00+00:00)")
        return None


def _known_keys_and_time(record: dict, known: set[str], wrong: list[str]) -> datetime | None:
    """The record's time where nothing else is wrong; an unknown key or a time that is
    not ISO 8601 is added to `wrong`."""
    unknown = sorted(set(record) - known)
    if unknown:
        wrong.append(f"unknown key(s) {', '.join(map(repr, unknown))}")
    return None if wrong else _parse_time(record, wrong)


def _class_record(record: dict, keys: dict[str, str], kind: type) -> tuple[Any, list[str]]:
    """A vote or class decision from its JSON object, or the list of what is wrong."""
    who, remark = keys["annotator"], keys["comment"]
    wrong = [
        f"{key!r} must be a non-empty string"
        for key in (who, "wnid", "label", "time")
        if not isinstance(record.get(key), str) or not record[key].strip()
    ]
    if record.get(remark) is not None and not isinstance(record[remark], str):
        wrong.append(f"{remark!r} must be a string when present")
    known = {who, "wnid", "label", "time", remark} | ({"suggestion"} if kind is Vote else set())
    if record.get("suggestion") is not None and not isinstance(record["suggestion"], str):
        wrong.append("'suggestion' must be a synset wnid when present")
    moment = _known_keys_and_time(record, known, wrong)
    if wrong:
        return None, wrong
    fields = (record[who], record["wnid"], record["label"], moment, record.get(remark))
    if kind is Vote:
        return Vote(*fields, record.get("suggestion") or None), []
    return kind(*fields), []


_NEITHER = (
    "neither a class decision (with 'wnid' and 'label') nor a label decision "
    "(with 'general', 'keep' and 'merge')"
)
_LABEL_DECISION_KEYS = {"admin", "general", "keep", "merge", "name", "time", "note"}


def _label_decision(record: dict) -> tuple[LabelDecision | None, list[str]]:
    """A label decision from its JSON object, or the list of what is wrong."""
    wrong = [
        f"{key!r} must be a non-empty string"
        for key in ("admin", "general", "time")
        if not isinstance(record.get(key), str) or not record[key].strip()
    ]
    for key in ("keep", "merge"):
        value = record.get(key, [])
        if not isinstance(value, list) or not all(isinstance(w, str) for w in value):
            wrong.append(f"{key!r} must be a list of synset wnids")
    for key in ("name", "note"):
        if record.get(key) is not None and not isinstance(record[key], str):
            wrong.append(f"{key!r} must be a string when present")
    moment = _known_keys_and_time(record, _LABEL_DECISION_KEYS, wrong)
    if wrong:
        return None, wrong
    decision = LabelDecision(
        record["admin"],
        record["general"],
        tuple(record.get("keep", [])),
        tuple(record.get("merge", [])),
        moment,
        record.get("name") or None,
        record.get("note") or None,
    )
    return decision, []


def votes_to_jsonl(votes: Iterable[Vote]) -> str:
    """The votes as JSON lines (sorted keys; `comment` only where there is one)."""
    return "".join(_line(v.annotator, v, v.comment, _VOTE_KEYS) for v in votes)


def write_votes(votes: Iterable[Vote], path: str | Path) -> None:
    Path(path).write_text(votes_to_jsonl(votes), encoding="utf-8")


def decisions_to_jsonl(decisions: Iterable[Decision | LabelDecision]) -> str:
    """The decisions as JSON lines, class and label decisions alike (module docstring)."""
    return "".join(
        _label_line(d)
        if isinstance(d, LabelDecision)
        else _line(d.admin, d, d.note, _DECISION_KEYS)
        for d in decisions
    )


def write_decisions(decisions: Iterable[Decision | LabelDecision], path: str | Path) -> None:
    Path(path).write_text(decisions_to_jsonl(decisions), encoding="utf-8")


def label_decision_record(decision: LabelDecision) -> dict[str, Any]:
    """A label decision as the JSON object of its line (`name`, `note` where given)."""
    record: dict[str, Any] = {
        "admin": decision.admin,
        "general": decision.general,
        "keep": list(decision.keep),
        "merge": list(decision.merge),
        "time": _format_time(decision.time),
    }
    if decision.name:
        record["name"] = decision.name
    if decision.note:
        record["note"] = decision.note
    return record


def _label_line(decision: LabelDecision) -> str:
    return json.dumps(label_decision_record(decision), sort_keys=True, ensure_ascii=False) + "\n"


def _line(who: str, item: Vote | Decision, remark: str | None, keys: dict[str, str]) -> str:
    record = {
        keys["annotator"]: who,
        "wnid": item.wnid,
        "label": item.label,
        "time": _format_time(item.time),
    }
    if remark:
        record[keys["comment"]] = remark
    if isinstance(item, Vote) and item.suggestion:
        record["suggestion"] = item.suggestion
    return json.dumps(record, sort_keys=True, ensure_ascii=False) + "\n"
