"""From votes to one label per class, in crowd-kit's shape without its dependency.

An aggregator is built with its settings, `fit(votes, decisions)` returns it,
and the results are attributes: `labels_` (class wnid -> label wnid for every
class of the hierarchy), `outcomes_` (the votes behind each), and for `Wawa`
`skills_`. The hierarchy is passed in, so tests use a small hand-made one.

The rules, in order:

1. Only each annotator's latest vote per class counts (the log is append-only).
2. An admin's latest decision for a class overrides its votes, and holds
   exactly through conflict resolution (label decisions too; see
   `clustering.conflicts`).
3. A class with fewer than `min_votes` counted votes is *undecided* and keeps
   its own synset as label: one person's opinion is not a consensus.
4. Otherwise the label with the most (weighted) votes wins. Ties are broken by
   `tie_break`, named in the arguments: `"specific"` (the default) takes the
   deepest tied synset (WordNet depth: the longest hypernym path to the root),
   because a tie never justifies merging more classes than a majority asked
   for; `"general"` takes the shallowest. Equal depths, possible only between
   synsets on different hypernym paths, go to the lowest wnid. The rule reads
   only the synsets, so it does not depend on how a hierarchy build happened
   to number the paths.

`aggregate` runs the whole job: an aggregator, then `clustering.conflicts` to
make the labels a partition (by default the settlement that satisfies the most
votes, each class weighing its labels by its `scores`) (refusing a lift that collapses more than
`max_share` of the classes into one label, where a share is given), then
`clustering.cil.build_cil`, with agreement figures, warnings and a report.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, Self

from clustering.agreement import agreement_summary
from clustering.cil import CIL, build_cil
from clustering.confidence import (
    TeamSkills,
    log_prior,
    team_skills,
    unnormalized,
    vote_terms,
)
from clustering.conflicts import (
    DEFAULT_POLICY,
    DecisionConflictError,
    Resolution,
    check_collapse,
    describe_conflict,
    find_overlaps,
    resolve_conflicts,
)
from clustering.gcpause import collector_paused
from clustering.hierarchy import Hierarchy
from clustering.votes import (
    Decision,
    LabelDecision,
    Vote,
    check_label_decisions,
    check_labels,
    label_decision_record,
    latest_decisions,
    latest_votes,
    split_decisions,
)

__all__ = [
    "AGGREGATORS",
    "DEFAULT_MIN_VOTES",
    "DEFAULT_TIE_BREAK",
    "REPORT_FORMAT",
    "TIE_BREAKS",
    "Aggregation",
    "ClassOutcome",
    "Confident",
    "DecisionConflictError",
    "MajorityVote",
    "Wawa",
    "aggregate",
    "class_reasons",
    "make_aggregator",
    "settlement_records",
]

DEFAULT_MIN_VOTES = 2
TIE_BREAKS = ("specific", "general")
DEFAULT_TIE_BREAK = "specific"
REPORT_FORMAT = "cil-aggregate-report"


@dataclass(frozen=True)
class ClassOutcome:
    wnid: str
    label: str  # the class's label before conflicts are resolved
    status: str  # "voted", "decided" (by an admin) or "undecided" (too few votes)
    votes: dict[str, int]  # label wnid -> counted votes
    scores: dict[str, float]  # label wnid -> weighted votes (equal to `votes` unweighted)
    tied: bool  # the winner was picked by the tie-break
    comments: tuple[str, ...]  # the counted votes' comments
    # The probability of `label` given the votes (`clustering.confidence`), where the
    # aggregator computes one; None otherwise.
    confidence: float | None = None
    # Whether every annotator whose vote is for `label` is known (`TeamSkills.known`), so
    # that one such vote may close the class as the queue closes it; True without skills.
    leaders_known: bool = True

    @property
    def n_votes(self) -> int:
        return sum(self.votes.values())

    @property
    def share(self) -> float:
        """The label's share of the counted votes (0.0 without votes)."""
        return self.votes.get(self.label, 0) / self.n_votes if self.n_votes else 0.0


class MajorityVote:
    """Plain majority of each annotator's latest vote; every annotator weighs 1.

    min_votes: counted votes a class needs to be decided by vote (default 2).
    tie_break: "specific" (default: the deepest tied synset, then the lowest wnid) or
        "general" (the shallowest, then the lowest wnid); see the module's docstring.

    After `fit`: labels_ (class wnid -> label wnid, every class), outcomes_ (class
    wnid -> ClassOutcome) and counted_votes_ (each annotator's latest vote per class).
    """

    def __init__(
        self,
        hierarchy: Hierarchy,
        *,
        min_votes: int = DEFAULT_MIN_VOTES,
        tie_break: str = DEFAULT_TIE_BREAK,
    ) -> None:
        if isinstance(min_votes, bool) or not isinstance(min_votes, int) or min_votes < 1:
            raise ValueError(f"min_votes must be a whole number of at least 1, got {min_votes!r}")
        if tie_break not in TIE_BREAKS:
            raise ValueError(
                f"unknown tie_break {tie_break!r}; choose one of: {', '.join(TIE_BREAKS)}"
            )
        self.hierarchy = hierarchy
        self.min_votes = min_votes
        self.tie_break = tie_break

    def fit(
        self, votes: Iterable[Vote], decisions: Iterable[Decision | LabelDecision] = ()
    ) -> Self:
        """Aggregate; votes and decisions for unknown classes or off-chain synsets, and
        label decisions naming synsets outside their general label, are refused with a
        `clustering.votes.VotesError` naming each. Label decisions are kept in
        `label_decisions_` for the conflict resolution; they change no class's outcome."""
        counted = latest_votes(votes)
        class_decisions, self.label_decisions_ = split_decisions(decisions)
        decided = latest_decisions(class_decisions)
        check_labels(self.hierarchy, counted, source="votes")
        check_labels(self.hierarchy, decided.values(), source="decisions")
        check_label_decisions(self.hierarchy, self.label_decisions_, source="decisions")
        self.decisions_: dict[str, Decision] = decided
        by_class: dict[str, list[Vote]] = {}
        for vote in counted:
            by_class.setdefault(vote.wnid, []).append(vote)
        weights = self._annotator_weights(by_class)
        self.counted_votes_: list[Vote] = counted
        self.outcomes_: dict[str, ClassOutcome] = {}
        for image_class in self.hierarchy.classes:
            class_votes = by_class.get(image_class.wnid, [])
            self.outcomes_[image_class.wnid] = self._outcome(
                image_class.wnid, class_votes, weights, decided.get(image_class.wnid)
            )
        self.labels_: dict[str, str] = {w: o.label for w, o in self.outcomes_.items()}
        return self

    def fit_predict(
        self, votes: Iterable[Vote], decisions: Iterable[Decision | LabelDecision] = ()
    ) -> dict[str, str]:
        return self.fit(votes, decisions).labels_

    def _annotator_weights(self, by_class: dict[str, list[Vote]]) -> dict[str, float]:
        """annotator -> weight of their votes, from the counted votes grouped by class."""
        return {vote.annotator: 1.0 for votes in by_class.values() for vote in votes}

    def _outcome(
        self, wnid: str, votes: list[Vote], weights: dict[str, float], decision: Decision | None
    ) -> ClassOutcome:
        tally, scores, comments = _tally(votes, weights)
        if decision is not None:
            return ClassOutcome(wnid, decision.label, "decided", tally, scores, False, comments)
        if len(votes) < self.min_votes:
            return ClassOutcome(wnid, wnid, "undecided", tally, scores, False, comments)
        label, tied = self._winner(scores)
        return ClassOutcome(wnid, label, "voted", tally, scores, tied, comments)

    def _winner(self, scores: dict[str, float]) -> tuple[str, bool]:
        best = max(scores.values())
        tied = [
            label
            for label, score in scores.items()
            if math.isclose(score, best, rel_tol=1e-9, abs_tol=1e-12)
        ]
        sign = -1 if self.tie_break == "specific" else 1
        depth = self.hierarchy.synsets
        return min(tied, key=lambda w: (sign * depth[w].depth, w)), len(tied) > 1


def _tally(
    votes: list[Vote], weights: dict[str, float]
) -> tuple[dict[str, int], dict[str, float], tuple[str, ...]]:
    """(label -> votes, label -> weighted votes, the comments) of one class's votes."""
    tally: dict[str, int] = {}
    scores: dict[str, float] = {}
    for vote in votes:
        tally[vote.label] = tally.get(vote.label, 0) + 1
        scores[vote.label] = scores.get(vote.label, 0.0) + weights[vote.annotator]
    return tally, scores, tuple(vote.comment for vote in votes if vote.comment)


class Wawa(MajorityVote):
    """Worker Agreement With Aggregate: each annotator weighs their share of
    agreement with the plain majority, then a weighted majority decides.

    Why Wawa and not Dawid-Skene: Dawid-Skene estimates a confusion matrix per
    annotator over one label set shared by all tasks, but here each class has its
    own candidates (its chain), and a survey of a few annotators cannot fit a
    matrix per person. Wawa needs one number per annotator, is deterministic, and
    is what crowd-kit builds on the majority too. The skill uses the classes with
    at least `min_votes` votes; an annotator with no such class weighs 1.

    skills_: annotator -> weight (share of agreement with the majority, 0..1).
    """

    def _annotator_weights(self, by_class: dict[str, list[Vote]]) -> dict[str, float]:
        unweighted = super()._annotator_weights(by_class)
        agreed: dict[str, list[int]] = {}
        for wnid, votes in by_class.items():
            majority = self._outcome(wnid, votes, unweighted, None)
            if majority.status != "voted":
                continue
            for vote in votes:
                tally = agreed.setdefault(vote.annotator, [0, 0])
                tally[0] += 1
                tally[1] += vote.label == majority.label
        self.skills_: dict[str, float] = {
            annotator: (agreed[annotator][1] / agreed[annotator][0] if annotator in agreed else 1.0)
            for annotator in sorted(unweighted)
        }
        return self.skills_


class Confident(MajorityVote):
    """The label most probable given the votes, each annotator's reliability and the
    entry-level model's prior (`clustering.confidence`): the numbers the survey's queue
    closes a class by. `priors` maps class -> {candidate: probability} (None: uniform);
    `suggestions` (class -> the model's suggestion) lets anchoring on a shown suggestion
    be told from agreement (see `clustering.confidence.team_skills`).

    skills_: `TeamSkills`; each outcome's `confidence` is its label's probability.
    Ties in probability go by `tie_break`, as the majority's do. Scores (what conflict
    resolution satisfies) stay the plain votes."""

    def __init__(
        self,
        hierarchy: Hierarchy,
        *,
        min_votes: int = DEFAULT_MIN_VOTES,
        tie_break: str = DEFAULT_TIE_BREAK,
        priors: Mapping[str, Mapping[str, float]] | None = None,
        suggestions: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(hierarchy, min_votes=min_votes, tie_break=tie_break)
        self.priors = priors or {}
        self.suggestions = suggestions or {}

    def _annotator_weights(self, by_class: dict[str, list[Vote]]) -> dict[str, float]:
        votes = [vote for class_votes in by_class.values() for vote in class_votes]
        self.skills_ = team_skills(votes, self.suggestions)
        self._by_class = by_class
        # The last fit's votes per class and outcomes on the hierarchy (`_tallied`).
        self._last = self.hierarchy.derived.get(LAST_FIT, ({}, {}))
        # A vote's two likelihood terms, per (annotator, candidates, whether it took the
        # suggestion): a few dozen, where each of 65,000 votes computed its own.
        self._terms: dict[tuple[str, int, bool], tuple[float, float]] = {}
        return {vote.annotator: 1.0 for vote in votes}

    def _weights(
        self, wnid: str, candidates: tuple[str, ...], votes: list[Vote]
    ) -> tuple[list[float], float]:
        """`clustering.confidence.unnormalized` for the class: its probabilities are
        `belief`'s, in `candidates`' order, each weight / the sum."""
        terms = []
        for vote in votes:
            key = (vote.annotator, len(candidates), vote.suggestion == vote.label)
            found = self._terms.get(key)
            if found is None:
                found = self._terms[key] = vote_terms(vote, self.skills_, len(candidates))
            terms.append((vote.label, *found))
        return unnormalized(candidates, self._log_prior(wnid, candidates), terms)

    def fit(
        self, votes: Iterable[Vote], decisions: Iterable[Decision | LabelDecision] = ()
    ) -> Self:
        super().fit(votes, decisions)
        self.hierarchy.derived[LAST_FIT] = (self._by_class, self.outcomes_)
        del self._by_class, self._last
        return self

    def _tallied(
        self, wnid: str, votes: list[Vote], weights: dict[str, float]
    ) -> tuple[dict[str, int], dict[str, float], tuple[str, ...]]:
        """`_tally` of the class's votes, the last fit's where they are the same votes
        (every weight is 1): after a vote, all but a class or two. Its very dicts, so
        that the conflict search finds the scores unchanged by identity
        (`clustering.conflict_memo.changes`) rather than by comparing them."""
        by_class, outcomes = self._last
        before = outcomes.get(wnid)
        if before is not None and by_class.get(wnid) == votes:  # the same Vote objects, mostly
            return before.votes, before.scores, before.comments
        return _tally(votes, weights)

    def _log_prior(self, wnid: str, candidates: tuple[str, ...]) -> list[float]:
        """The class's `log_prior`, kept per hierarchy while its prior is equal: the same
        after every vote, and a third of the beliefs' time at 21,843 classes."""
        prior = self.priors.get(wnid)
        kept = self.hierarchy.derived.setdefault("log_priors", {})
        known = kept.get(wnid)
        if known is None or (known[0] is not prior and known[0] != prior):
            known = kept[wnid] = (prior, log_prior(candidates, prior))
        return known[1]

    def _outcome(
        self, wnid: str, votes: list[Vote], weights: dict[str, float], decision: Decision | None
    ) -> ClassOutcome:
        if not votes:
            return super()._outcome(wnid, votes, weights, decision)
        # Built here rather than from the majority's outcome: at 21,843 classes the
        # majority's winner and a copy of its outcome per class cost a tenth of a second.
        tally, scores, comments = self._tallied(wnid, votes, weights)
        candidates = self.hierarchy.chain(wnid)
        weights_, total = self._weights(wnid, candidates, votes)
        if decision is not None or len(votes) < self.min_votes:
            label, status = (wnid, "undecided") if decision is None else (decision.label, "decided")
            return ClassOutcome(
                wnid,
                label,
                status,
                tally,
                scores,
                False,
                comments,
                weights_[candidates.index(label)] / total,
            )
        # The best probability is 1 / total (the top weight is exactly 1, and dividing
        # keeps the order); one whose weight is at most half is no tie, so isclose is
        # asked of the others only.
        best = 1.0 / total
        tied = [
            w
            for w, weight in zip(candidates, weights_, strict=True)
            if weight > 0.5 and math.isclose(weight / total, best, rel_tol=1e-9, abs_tol=1e-12)
        ]
        label = tied[0] if len(tied) == 1 else self._winner(dict.fromkeys(tied, 1.0))[0]
        return ClassOutcome(
            wnid,
            label,
            "voted",
            tally,
            scores,
            len(tied) > 1,
            comments,
            weights_[candidates.index(label)] / total,
            all(self.skills_.known(v.annotator) for v in votes if v.label == label),
        )


# Hierarchy.derived's entry: (votes per class, outcomes) of the last `Confident` fit,
# which a process keeps for itself (survey_app.hierarchy_snapshot keeps it no further).
LAST_FIT = "confident_fit"

METHODS = {"none": "majority vote", "wawa": "wawa", "confidence": "confidence"}
AGGREGATORS: dict[str, type[MajorityVote]] = {
    "none": MajorityVote,
    "wawa": Wawa,
    "confidence": Confident,
}


def make_aggregator(
    hierarchy: Hierarchy,
    weighting: str = "none",
    min_votes: int = DEFAULT_MIN_VOTES,
    tie_break: str = DEFAULT_TIE_BREAK,
    priors: Mapping[str, Mapping[str, float]] | None = None,
    suggestions: Mapping[str, str] | None = None,
) -> MajorityVote:
    """The aggregator for `weighting`: "none" (plain majority), "wawa", or "confidence"
    (which alone reads `priors` and `suggestions`)."""
    try:
        cls = AGGREGATORS[weighting]
    except KeyError:
        raise ValueError(
            f"unknown weighting {weighting!r}; choose one of: {', '.join(AGGREGATORS)}"
        ) from None
    if cls is Confident:
        return Confident(
            hierarchy,
            min_votes=min_votes,
            tie_break=tie_break,
            priors=priors,
            suggestions=suggestions,
        )
    return cls(hierarchy, min_votes=min_votes, tie_break=tie_break)


@dataclass(frozen=True)
class Aggregation:
    """Everything one run produced: the CIL and what a report or an admin page shows."""

    hierarchy: Hierarchy
    aggregator: MajorityVote
    resolution: Resolution
    cil: CIL
    settings: dict[str, Any]
    # class -> why its exported label is not simply the one its votes chose: an admin's
    # decision, too few votes, a move, a merge or an "other" name (`class_reasons`).
    reasons: dict[str, str]
    # What the caller should hear though nothing failed: settings that left voted
    # classes undecided (see `_min_votes_warnings`).
    warnings: tuple[str, ...] = ()

    @property
    def outcomes(self) -> dict[str, ClassOutcome]:
        return self.aggregator.outcomes_

    @cached_property
    def agreement(self) -> dict[str, Any]:
        """The agreement figures (`clustering.agreement`) of the counted votes with the
        consensus, the classes decided by vote or by an admin. Computed where asked (the
        report, the review summary), not with the CIL: a tenth of the aggregation after a
        vote at 21,843 classes, which an export and the review's actions wait for."""
        consensus = {w: o.label for w, o in self.outcomes.items() if o.status != "undecided"}
        return agreement_summary(self.aggregator.counted_votes_, consensus)

    def report(self) -> dict[str, Any]:
        """The report as plain JSON values (written with sorted keys); the cycle
        collector is paused meanwhile (`clustering.gcpause`)."""
        with collector_paused():
            return self._report()

    def _report(self) -> dict[str, Any]:
        h = self.hierarchy
        final = self.resolution.assignment
        label_names = {label.wnid: label.name for label in self.cil.labels}
        reasons = self.reasons
        return {
            "format": REPORT_FORMAT,
            "format_version": 1,
            "settings": self.settings,
            "labels": self.cil.num_labels,
            "classes": {
                wnid: {
                    "name": h.label(wnid),
                    "status": o.status,
                    "voted_label": o.label,
                    "label": final[wnid],
                    "label_name": label_names[final[wnid]],
                    "votes": o.votes,
                    "n_votes": o.n_votes,
                    "share": round(o.share, 4),
                    "tied": o.tied,
                    "comments": list(o.comments),
                    "reason": reasons.get(wnid),
                }
                for wnid, o in self.outcomes.items()
            },
            "undecided": [w for w, o in self.outcomes.items() if o.status == "undecided"],
            "decided": [w for w, o in self.outcomes.items() if o.status == "decided"],
            "ties": [w for w, o in self.outcomes.items() if o.tied],
            "conflicts": [
                {"general": c.general, "specific": c.specific, "text": describe_conflict(h, c)}
                for c in self.resolution.conflicts
            ],
            "moved": {w: {"from": a, "to": b} for w, (a, b) in self.resolution.moved.items()},
            "lifted": self.resolution.lifted,
            "other_labels": sorted(self.resolution.other_labels),
            "settlements": settlement_records(self.resolution),
            "broken_decisions": list(self.resolution.broken),
            "overlaps": [
                {"class": o.wnid, "label": o.label, "also_under": o.also_under}
                for o in find_overlaps(h, final)
            ],
            "agreement": self.agreement,
            "skills": _skills_record(getattr(self.aggregator, "skills_", None)),
            "warnings": list(self.warnings),
        }


def aggregate(
    hierarchy: Hierarchy,
    votes: Iterable[Vote],
    decisions: Iterable[Decision] = (),
    *,
    min_votes: int = DEFAULT_MIN_VOTES,
    tie_break: str = DEFAULT_TIE_BREAK,
    weighting: str = "none",
    conflicts: str = DEFAULT_POLICY,
    max_share: float | None = None,
    source: str = "votes",
    check_decisions: bool = True,
    priors: Mapping[str, Mapping[str, float]] | None = None,
    suggestions: Mapping[str, str] | None = None,
) -> Aggregation:
    """Votes -> a sound CIL. Raises `clustering.conflicts.ConflictError` under the
    `refuse` policy when labels conflict, its `DecisionConflictError` where decisions
    cannot all hold (unless `check_decisions` is false: the review pages show them),
    its `CollapseError` where a lift puts more than `max_share` of the classes under
    one label (None: no limit), and `clustering.votes.VotesError` for bad votes.
    The cycle collector is paused meanwhile (`clustering.gcpause`)."""
    with collector_paused():
        return _aggregate(
            hierarchy,
            list(votes),
            list(decisions),
            min_votes=min_votes,
            tie_break=tie_break,
            weighting=weighting,
            conflicts=conflicts,
            max_share=max_share,
            source=source,
            check_decisions=check_decisions,
            priors=priors,
            suggestions=suggestions,
        )


def _aggregate(
    hierarchy: Hierarchy,
    votes: list[Vote],
    decisions: list[Decision],
    *,
    min_votes: int,
    tie_break: str,
    weighting: str,
    conflicts: str,
    max_share: float | None,
    source: str,
    check_decisions: bool,
    priors: Mapping[str, Mapping[str, float]] | None,
    suggestions: Mapping[str, str] | None,
) -> Aggregation:
    aggregator = make_aggregator(
        hierarchy, weighting, min_votes, tie_break, priors, suggestions
    ).fit(votes, decisions)
    resolution = resolve_conflicts(
        hierarchy,
        aggregator.labels_,
        conflicts,
        scores={w: o.scores for w, o in aggregator.outcomes_.items()},
        decided=aggregator.decisions_,
        label_decisions=aggregator.label_decisions_,
        undecided=[w for w, o in aggregator.outcomes_.items() if o.status == "undecided"],
    )
    if check_decisions:
        resolution.check_decisions()
    if max_share is not None:
        check_collapse(hierarchy, resolution, max_share)
    outcomes = aggregator.outcomes_
    counted = aggregator.counted_votes_
    latest = max((v.time for v in votes), default=None)
    settings = {
        "method": METHODS[weighting],
        "min_votes": min_votes,
        "tie_break": tie_break,
        "conflicts": conflicts,
        "max_share": max_share,
    }
    provenance = {
        **settings,
        "source": source,
        "hierarchy_version": hierarchy.version,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "latest_vote_at": latest.isoformat() if latest else None,
        "conflicts_resolved": len(resolution.conflicts),
        "votes": {
            "rows": len(votes),
            "counted": len(counted),
            "annotators": len({v.annotator for v in counted}),
            "classes_with_votes": len({v.wnid for v in counted}),
            "undecided": sum(o.status == "undecided" for o in outcomes.values()),
            "decided_by_admin": sum(o.status == "decided" for o in outcomes.values()),
            "label_decisions": len(aggregator.label_decisions_),
        },
        "label_decisions": [label_decision_record(d) for d in aggregator.label_decisions_],
        "settlements": settlement_records(resolution),
    }
    reasons = class_reasons(hierarchy, outcomes, aggregator.decisions_, resolution, settings)
    cil = build_cil(
        hierarchy,
        resolution.assignment,
        provenance,
        resolution.other_labels,
        names=resolution.names,
        reasons=reasons,
    )
    return Aggregation(
        hierarchy,
        aggregator,
        resolution,
        cil,
        settings,
        reasons,
        _min_votes_warnings(outcomes, min_votes),
    )


def _skills_record(skills: Any) -> Any:
    """The aggregator's skills as plain JSON (Wawa's are already)."""
    if isinstance(skills, TeamSkills):
        return {
            "reliability": skills.reliability,
            "anchoring": skills.anchoring,
            "suggestion_shares": {
                name: {kind: list(pair) for kind, pair in kinds.items()}
                for name, kinds in skills.suggestion_shares.items()
            },
        }
    return skills


def settlement_records(resolution: Resolution) -> list[dict[str, Any]]:
    """Each specific label's settlement as plain JSON: how every conflict was resolved."""
    records = []
    for label, settlement in sorted(resolution.settlements.items()):
        record: dict[str, Any] = {
            "label": label,
            "general": settlement.general,
            "kept": settlement.kept,
            "by": settlement.by,
            "kept_votes": settlement.kept_votes,
            "merged_votes": settlement.merged_votes,
        }
        if settlement.decision is not None:
            record["admin"] = settlement.decision.admin
            record["time"] = settlement.decision.time.isoformat()
        records.append(record)
    return records


def class_reasons(
    hierarchy: Hierarchy,
    outcomes: dict[str, ClassOutcome],
    decisions: dict[str, Decision],
    resolution: Resolution,
    settings: dict[str, Any],
) -> dict[str, str]:
    """class -> why its label is what it is, where that is not simply its votes'
    choice: an admin's decision, too few votes, a move, a merge or an "other" name."""
    reasons = dict(resolution.reasons)
    for wnid, outcome in outcomes.items():
        if outcome.status == "decided":
            decision = decisions[wnid]
            note = f": {decision.note}" if decision.note else ""
            reasons[wnid] = (
                f"settled as {hierarchy.label(outcome.label)} ({outcome.label}) by "
                f"{decision.admin} on {decision.time:%Y-%m-%d %H:%M}{note}"
            )
        elif outcome.status == "undecided" and wnid not in reasons:
            reasons[wnid] = (
                f"{outcome.n_votes} of the {settings['min_votes']} votes a class needs: "
                "keeps its own label"
            )
    return reasons


def _min_votes_warnings(outcomes: dict[str, ClassOutcome], min_votes: int) -> tuple[str, ...]:
    """A warning where voted classes stay undecided for want of votes: `min_votes` above
    the votes present makes every class undecided, which is no error but rarely meant."""
    voted = [o for o in outcomes.values() if o.n_votes]
    short = [o for o in voted if o.status == "undecided"]
    if not short:
        return ()
    most = max(o.n_votes for o in voted)
    warning = (
        f"{len(short)} of the {len(voted)} classes with votes have fewer than the "
        f"{min_votes} votes a class needs (the most a class has: {most}), so they keep "
        "their own label"
    )
    return (warning,)
