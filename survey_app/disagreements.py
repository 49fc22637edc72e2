"""What the review's Disagreements holds: each open label conflict once, as a row with
its labels, their classes and votes and the proposed settlement in words, and the
classes with a reason of their own (unsure, split, overlap, comment), with where each
class stands in the queue. Plain values computed from an aggregation and kept with it;
the pages that show them are `survey_app.review`'s."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from clustering.aggregate import Aggregation, ClassOutcome
from clustering.confidence import ClosingRule
from clustering.conflicts import ConflictGroup, Settlement, find_overlaps
from clustering.hierarchy import Hierarchy
from survey_app import label_decisions
from survey_app.caches import kept
from survey_app.survey_settings import survey_settings

PER_PAGE = 50  # rows of a review page
SAID_IN_FULL = 2  # labels a proposal or a card names, each side, before "and N more"


def derived(result: Aggregation, name: object, compute: Callable[[Aggregation], object]):
    """`compute(result)`, kept while `result` is the current aggregation (which
    `current_aggregation` keeps until a vote or decision is added): every review
    page needs the queue, and finding it took most of a page's time at 1,000 classes."""
    return kept(("review", name), result, lambda: compute(result))


def name_key(hierarchy: Hierarchy, wnid: str) -> tuple[str, str]:
    return hierarchy.label(wnid).casefold(), wnid


def by_name(hierarchy: Hierarchy, wnids: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(wnids, key=lambda w: name_key(hierarchy, w)))


def chosen_by(result: Aggregation) -> dict[str, tuple[str, ...]]:
    """Label -> the classes decided as it (by vote or by an admin), by name."""
    return derived(result, "chosen_by", _chosen_by)


def _chosen_by(result: Aggregation) -> dict[str, tuple[str, ...]]:
    classes: dict[str, list[str]] = {}
    for wnid, outcome in result.outcomes.items():
        if outcome.status != "undecided":
            classes.setdefault(outcome.label, []).append(wnid)
    return {label: by_name(result.hierarchy, ws) for label, ws in classes.items()}


# --- the queue ------------------------------------------------------------------------
@dataclass(frozen=True)
class LabelBelow:
    """A label below a conflict's general label, as the queue shows it."""

    wnid: str
    classes: tuple[str, ...]  # the classes decided as it, by name
    votes: int  # their votes for it
    settlement: Settlement  # how the export settles it now


@dataclass(frozen=True)
class ConflictRow:
    """An open conflict group: the general label, the labels below it, and what
    the export does with them now (the proposal, which Accept records)."""

    kind: ClassVar[str] = "conflict"
    group: ConflictGroup
    classes: tuple[str, ...]  # the classes decided as the general label, by name
    below: tuple[LabelBelow, ...]  # by name
    rest_name: str  # the lemma that names the general label's rest now

    @property
    def general(self) -> str:
        return self.group.general

    @property
    def kept(self) -> tuple[LabelBelow, ...]:
        return tuple(b for b in self.below if b.settlement.kept)

    @property
    def merged(self) -> tuple[LabelBelow, ...]:
        return tuple(b for b in self.below if not b.settlement.kept)

    def members(self) -> list[str]:
        """The classes of the conflict: the general label's, then each label's."""
        return [*self.classes, *(c for b in self.below for c in b.classes)]


@dataclass(frozen=True)
class QueueEntry:
    """A class an admin should look at for a reason of its own."""

    kind: ClassVar[str] = "class"
    wnid: str
    outcome: ClassOutcome
    final: str  # its label in the CIL, after conflicts
    reasons: tuple[str, ...]  # "unsure", "split", "tie", "overlap", "comment"
    since: datetime  # its latest counted vote: how long it has waited
    also_under: tuple[str, ...] = ()  # the chosen labels it also lies under (overlap)

    @property
    def proposed(self) -> bool:
        """Only an overlap has a proposal (keep the exported label); a split, a tie or
        a comment needs a person."""
        return self.reasons == ("overlap",)


def _clear_winner(outcome: ClassOutcome) -> bool:
    """More than half of the counted votes for one label."""
    return not outcome.tied and outcome.share > 0.5


def latest_times(result: Aggregation, key: str) -> dict[str, datetime]:
    """The counted votes' `key` ("wnid", "annotator") -> the time of the latest of them."""
    latest: dict[str, datetime] = {}
    for vote in result.aggregator.counted_votes_:
        of = getattr(vote, key)
        if of not in latest or vote.time > latest[of]:
            latest[of] = vote.time
    return latest


def conflict_rows(result: Aggregation, groups: Iterable[ConflictGroup]) -> list[ConflictRow]:
    """`groups` as the queue and the summary show them, by the general label's name."""
    hierarchy = result.hierarchy
    classes = chosen_by(result)
    settlements = result.resolution.settlements
    names = result.resolution.names
    rows = [
        ConflictRow(
            group,
            classes.get(group.general, ()),
            tuple(
                LabelBelow(
                    w,
                    classes.get(w, ()),
                    sum(result.outcomes[c].votes.get(w, 0) for c in classes.get(w, ())),
                    settlements[w],
                )
                for w in by_name(hierarchy, group.specifics)
            ),
            names.get(group.general, hierarchy.label(group.general)),
        )
        for group in groups
    ]
    return sorted(rows, key=lambda row: name_key(hierarchy, row.general))


def class_entries(result: Aggregation) -> list[QueueEntry]:
    """The classes not settled by a decision that an admin should look at, for a
    reason of their own: *unsure* (the queue closed it at the most votes a class
    gets, below the target confidence; a class still collecting votes is the
    queue's, and one closed above the target is settled by its confidence), no
    clear winner where the aggregation computes no confidence, under two
    chosen labels through two hypernym paths (an overlap), or a comment. A class
    without votes is never here, nor one whose only trouble is its label's conflict
    (the conflict's row settles that). Oldest first: by the latest counted vote."""
    rule = survey_settings().closing
    return derived(result, ("class_entries", rule), lambda r: _class_entries(r, rule))


def closing_state(outcome: ClassOutcome, rule: ClosingRule) -> str:
    """Where the class stands in the queue: "open", "closed early", "closed" (at the
    most votes, agreeing) or "unsure"; "" without votes or a confidence."""
    if not outcome.n_votes or outcome.confidence is None:
        return ""
    leader_votes = outcome.votes.get(outcome.label, 0)
    if not rule.closed(outcome.n_votes, outcome.confidence, leader_votes, outcome.leaders_known):
        return "open"
    if rule.unsure(outcome.n_votes, outcome.confidence):
        return "unsure"
    return "closed early" if outcome.n_votes < rule.max_votes else "closed"


def _class_entries(result: Aggregation, rule: ClosingRule) -> list[QueueEntry]:
    also: dict[str, list[str]] = {}
    for overlap in find_overlaps(result.hierarchy, result.resolution.assignment):
        also.setdefault(overlap.wnid, []).append(overlap.also_under)
    since = latest_times(result, "wnid")
    entries = []
    for wnid, outcome in result.outcomes.items():
        if outcome.status == "decided" or not outcome.n_votes:
            continue
        reasons = []
        state = closing_state(outcome, rule)
        if outcome.status == "voted" and state == "unsure":
            reasons.append("unsure")
        # A split matters where no confidence settles it: the queue's unsure classes,
        # or every class when the aggregation computes no confidence.
        if outcome.status == "voted" and state in ("", "unsure") and not _clear_winner(outcome):
            reasons.append("split")
            if outcome.tied:
                reasons.append("tie")
        if outcome.status == "voted" and wnid in also:
            reasons.append("overlap")
        if outcome.comments:
            reasons.append("comment")
        if reasons:
            final = result.resolution.assignment[wnid]
            entries.append(
                QueueEntry(
                    wnid, outcome, final, tuple(reasons), since[wnid], tuple(also.get(wnid, ()))
                )
            )
    return sorted(entries, key=lambda e: (e.since, e.wnid))


def disagreement_queue(result: Aggregation) -> list[ConflictRow | QueueEntry]:
    """What an admin should settle: each open conflict group once (by the general
    label's name), then the classes with a reason of their own (`class_entries`)."""
    return derived(result, "queue", _disagreement_queue)


def _disagreement_queue(result: Aggregation) -> list[ConflictRow | QueueEntry]:
    return [*conflict_rows(result, label_decisions.open_groups(result)), *class_entries(result)]


def queue_pages(result: Aggregation) -> dict[str, int]:
    """Each open conflict's general label -> the page of the queue that lists it."""
    return derived(
        result,
        "queue_pages",
        lambda r: {
            e.general: i // PER_PAGE + 1
            for i, e in enumerate(disagreement_queue(r))
            if e.kind == "conflict"
        },
    )


def _votes_text(n: float) -> str:
    return f"{n:g} vote{'' if n == 1 else 's'}"


def _listed(hierarchy: Hierarchy, below: Sequence[LabelBelow]) -> str:
    """ "ostrich (2 votes kept against 0 merged), cock (…) and 4 more"."""
    said = [
        f"{hierarchy.label(b.wnid)} ({_votes_text(b.settlement.kept_votes)} kept against "
        f"{b.settlement.merged_votes:g} merged)"
        for b in below[:SAID_IN_FULL]
    ]
    if len(below) > SAID_IN_FULL:
        return f"{', '.join(said)} and {len(below) - SAID_IN_FULL} more"
    return said[0] if len(said) == 1 else f"{', '.join(said[:-1])} and {said[-1]}"


def proposal_text(hierarchy: Hierarchy, row: ConflictRow) -> str:
    """The proposed resolution in words: "keep carbonara (3 votes kept against 0
    merged); name the rest “other sauce”"."""
    parts = []
    if row.kept:
        parts.append(f"keep {_listed(hierarchy, row.kept)}")
    if row.merged:
        parts.append(f"merge {_listed(hierarchy, row.merged)} into {hierarchy.label(row.general)}")
    if row.kept:
        parts.append(f"name the rest “other {row.rest_name}”")
    return "; ".join(parts)
