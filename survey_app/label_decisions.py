"""Label decisions in the survey: an admin settles a label conflict in one act.

A conflict group (`clustering.conflicts.ConflictGroup`) is a chosen label with
the chosen labels whose nearest chosen label above is it. A label decision
keeps some of those labels beside it and merges the others into it, and may
name the rest of the general label with one of its lemmas. Accepting the
proposed resolution records, for a group, the settlement the export's policy
chose (`Resolution.split`), as `clustering.signoff` does for the default CIL. The
review pages and the JSON API both record through `record`, so a
decision is checked the same way wherever it comes from.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from clustering.aggregate import Aggregation
from clustering.conflicts import ConflictGroup
from clustering.signoff import ACCEPTED_PROPOSAL
from clustering.votes import LabelDecision as LabelDecisionValue
from clustering.votes import label_decision_problems
from survey_app.errors import SurveyError
from survey_app.extensions import db
from survey_app.models import LabelDecision
from survey_app.votes import clean_text


class LabelDecisionError(SurveyError, ValueError):
    """A label decision that was not recorded; `problems` maps each field to what is
    wrong with it, and the message lists them."""

    def __init__(self, problems: dict[str, str]) -> None:
        self.problems = problems
        super().__init__(
            "The label decision was not recorded: "
            + "; ".join(f"{field}: {problem}" for field, problem in problems.items())
        )


def open_groups(result: Aggregation) -> list[ConflictGroup]:
    """The groups not every label of which an admin has settled."""
    return [g for g in result.resolution.groups if not g.settled]


def group_of(result: Aggregation, general: str) -> ConflictGroup | None:
    return next((g for g in result.resolution.groups if g.general == general), None)


def check(
    result: Aggregation,
    general: str,
    keep: Sequence[str],
    merge: Sequence[str],
    name: str | None,
) -> dict[str, str]:
    """field -> what is wrong, for a label decision on the current labels (empty: none).
    The general label must be a conflict group's; `keep` and `merge` must list labels
    of that group, each once; `name` must be a lemma of the general label."""
    hierarchy = result.hierarchy
    group = group_of(result, general)
    if group is None:
        known = general in hierarchy.synsets
        what = f"{general} ({hierarchy.label(general)})" if known else repr(general)
        return {
            "general": f"{what} is not the general label of any conflict among the current "
            "labels; see the review's Disagreements for the conflicts there are"
        }
    problems: dict[str, str] = {}
    members = set(group.specifics)
    for field, wnids in (("keep", keep), ("merge", merge)):
        outside = [w for w in wnids if w not in members]
        if outside:
            problems[field] = (
                f"{', '.join(outside)} {'is' if len(outside) == 1 else 'are'} not among the "
                f"labels below {hierarchy.label(general)} in this conflict "
                f"({', '.join(group.specifics)})"
            )
    value = LabelDecisionValue("", general, tuple(keep), tuple(merge), datetime.now(UTC), name)
    for field, problem in label_decision_problems(hierarchy, value):
        problems.setdefault(field, problem)
    return problems


def record(
    result: Aggregation,
    admin_id: int,
    general: str,
    keep: Iterable[str],
    merge: Iterable[str],
    name: str | None = None,
    note: str | None = None,
) -> LabelDecision:
    """Check and add one label decision to the session (the caller commits);
    `LabelDecisionError` names each wrong field, and nothing is added then."""
    keep, merge = list(keep), list(merge)
    name = (name or "").strip() or None
    problems = check(result, general, keep, merge, name)
    try:
        note = clean_text(note, "note")
    except ValueError as exc:
        problems["note"] = str(exc)
    if problems:
        raise LabelDecisionError(problems)
    row = LabelDecision(
        admin_id=admin_id,
        general_wnid=general,
        keep=keep,
        merge=merge,
        name=name,
        note=note,
    )
    db.session.add(row)
    return row


def accept(
    result: Aggregation, admin_id: int, generals: Iterable[str] | None = None
) -> list[LabelDecision]:
    """Record the proposed resolution of the given open groups (None: every open
    group) as label decisions in the admin's name; the caller commits."""
    wanted = None if generals is None else set(generals)
    rows = []
    for group in open_groups(result):
        if wanted is not None and group.general not in wanted:
            continue
        kept, merged = result.resolution.split(group)
        rows.append(record(result, admin_id, group.general, kept, merged, note=ACCEPTED_PROPOSAL))
    return rows
