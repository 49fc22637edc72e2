"""Soundness: the chosen labels must partition the classes.

A *conflict* is a chosen label that is a WordNet ancestor of another chosen
label ("bird" beside "ostrich"): a classifier would be asked to tell an ostrich
from a bird. Conflicts are grouped by their general label: each chosen label
with a chosen label above it (a *specific* label) belongs to the group of the
nearest chosen label above it (the deepest, then the lowest wnid).

Resolving a conflict is settling each specific label: *kept* beside the general
label, which then stands for "other <general>" (the synset less the labels
below it), or *merged* into it. Every class then takes, of the kept labels on
its chain, the deepest one at or below its *anchor*: its own chosen label if
that is kept, else the nearest kept label above it. So a class that chose
"bird" while "ostrich" is kept below it on its chain moves down into "ostrich"
(a bird that is an ostrich is no "other bird"), and a class that chose
"ostrich" goes up into "bird" when "ostrich" is merged. A label on another
hypernym path of the class is never taken (see `find_overlaps`).

Admins' decisions come first and hold exactly:

- a label decision (`clustering.votes.LabelDecision`) keeps or merges the
  labels it names below its general label; the latest one naming a label counts;
- a class decision (this class -> this synset) keeps its synset and merges
  every chosen label below it on the class's chain, so that the class lands
  exactly on its synset. Where two decisions need the same label kept and
  merged, the later one is followed and the earlier one is *broken*:
  `Resolution.broken` says which and why, and exports refuse
  (`DecisionConflictError`) instead of changing a decision silently.

The labels no decision settles are settled by a policy:

- `votes` (the default): the settlement that satisfies the most votes, a
  class's satisfied votes being its (weighted) votes for the label it ends in.
  Keeping a specific label satisfies the classes that chose it and moves down
  into it the classes below it that chose something more general; merging it
  does the opposite. Starting from every label kept and, separately, from every
  label merged, each label is flipped while that strictly gains votes, until no
  flip does; the better of the two ends wins (the all-kept one on a tie). So
  one class's noisy "hunting dog" (two votes) is merged into "dog" when twenty
  classes below it chose "dog", instead of carrying them all with it. A tie
  keeps the label (a tie never justifies merging more than was asked for).
- `other`: every specific label is kept.
- `lift`: every specific label is merged, so every label is its synset whole.
  One class voted "mammal" lifts all 218 mammals of ImageNet-1k into it, and
  one voted "physical entity" 997 classes, so `check_collapse` refuses a lift
  that puts more than a stated share of the classes under one label
  (`CollapseError`); the command line asks it at `DEFAULT_MAX_SHARE` unless
  `--allow-collapse`.
- `refuse`: nothing is exported while a conflict is unsettled; `ConflictError`
  lists them for an admin to settle by decisions.

A class may lie above other classes (ImageNet-21k lists "dog" and "beagle"). Its
chain ends at itself, as every class's does, so it is labelled at or above its own
synset and can never move down: with "beagle" kept below a chosen "dog", the class
dog is in "other dog", which is what its pictures are (dogs that no listed breed
names). The rules above need no exception for it.

Classes with several hypernym paths can also lie under two chosen labels that
are not ancestors of each other ("black grouse" under both "game" and "bird").
That is no conflict by the rule above, no policy can undo it without merging
unrelated labels, and `find_overlaps` reports it for an admin to look at.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from itertools import chain

from clustering.conflict_memo import LastSearch, changes, keep_search, last_search
from clustering.errors import ClusteringError
from clustering.hierarchy import Hierarchy
from clustering.votes import Decision, LabelDecision

__all__ = [
    "DEFAULT_MAX_SHARE",
    "DEFAULT_POLICY",
    "POLICIES",
    "CollapseError",
    "Conflict",
    "ConflictError",
    "ConflictGroup",
    "DecisionConflictError",
    "Overlap",
    "Resolution",
    "Settlement",
    "check_collapse",
    "describe_conflict",
    "find_conflicts",
    "find_overlaps",
    "resolve_conflicts",
]

POLICIES = ("votes", "other", "lift", "refuse")
DEFAULT_POLICY = "votes"
# The most of the classes that `lift` may put under one label unless asked. On
# ImageNet-1k the largest groups a person names stay below it: "dog" (118 classes),
# and "mammal" (218), the largest label of popularity and of depth k=1 under lift;
# "animal" (398) and the near-root labels of depth k >= 2 (958 and more) do not.
DEFAULT_MAX_SHARE = 0.25
# The most labels kept or merged otherwise than in the last resolution under which its
# final labels are taken over (`_Problem.finals`); above, every class is asked again.
FINALS_REDONE_LABELS = 100


@dataclass(frozen=True, order=True)
class Conflict:
    general: str  # a chosen label's wnid ...
    specific: str  # ... that is an ancestor of this chosen label's wnid


@dataclass(frozen=True)
class Chosen:
    """Where a set of chosen labels lies: what depends on the set alone."""

    labels: frozenset[str]
    candidates: dict[str, tuple[str, ...]]  # class -> the chosen labels on its chain, deepest first
    above: dict[str, frozenset[str]]  # chosen label -> the chosen labels above it
    above_by_depth: dict[str, tuple[str, ...]]  # the same, deepest first
    # Every (general, specific) pair of chosen labels, the general above, sorted.
    conflicts: tuple[Conflict, ...]


def chosen_places(hierarchy: Hierarchy, labels: frozenset[str]) -> Chosen:
    """The places of `labels`: the last set's where it is the same, else the last set's
    with those of the classes and labels under a label added or dropped made again
    (after a vote, a label or two), else made whole."""
    last = hierarchy.derived.get("conflict_chosen")
    if last is not None and last.labels == labels:
        return last
    order = {w: (-hierarchy.synsets[w].depth, w) for w in labels}.__getitem__
    if last is None:
        classes = [c.wnid for c in hierarchy.classes]
        candidates: dict[str, tuple[str, ...]] = {}
        above: dict[str, frozenset[str]] = {}
        redo = labels
    else:
        changed = labels ^ last.labels
        classes = list(dict.fromkeys(c for w in changed for c in hierarchy.descendants.get(w, ())))
        candidates = dict(last.candidates)
        above = {w: places for w, places in last.above.items() if w in labels}
        redo = {
            w
            for w in labels
            if w not in last.labels or not changed.isdisjoint(hierarchy.ancestors(w))
        }
    for c in classes:
        candidates[c] = tuple(sorted((w for w in hierarchy.chain(c) if w in labels), key=order))
    above_by_depth = (
        {w: places for w, places in last.above_by_depth.items() if w in labels}
        if last is not None
        else {}
    )
    for w in redo:
        above[w] = hierarchy.ancestors(w) & labels
        above_by_depth[w] = tuple(sorted(above[w], key=order))
    # The pairs of labels whose places did not change are taken as they were: making
    # each of 37,000 anew took a tenth of a resolution at 21,843 classes.
    known = {(c.general, c.specific): c for c in last.conflicts} if last is not None else {}
    pairs = sorted((general, w) for w in labels for general in above[w])
    conflicts = tuple(known.get(pair) or Conflict(*pair) for pair in pairs)
    chosen = Chosen(labels, candidates, above, above_by_depth, conflicts)
    hierarchy.derived["conflict_chosen"] = chosen
    return chosen


def describe_conflict(hierarchy: Hierarchy, conflict: Conflict) -> str:
    return (
        f"{hierarchy.label(conflict.general)} ({conflict.general}) is an ancestor of "
        f"{hierarchy.label(conflict.specific)} ({conflict.specific})"
    )


class ConflictError(ClusteringError, ValueError):
    """Conflicts no policy was allowed to resolve; `conflicts` holds them all, the
    message says what to do."""

    def __init__(self, message: str, conflicts: list[Conflict]) -> None:
        self.conflicts = conflicts
        super().__init__(message)


class DecisionConflictError(ConflictError):
    """Decisions that cannot all hold; `broken` says, per broken decision, what is in
    its way. An export refuses rather than change a decision."""

    def __init__(self, broken: Iterable[str], conflicts: list[Conflict]) -> None:
        self.broken = tuple(broken)
        lines = "\n".join(f"  - {line}" for line in self.broken)
        super().__init__(
            f"{len(self.broken)} decision(s) cannot hold as decided, so nothing is exported:"
            f"\n{lines}\nSettle again so that the decisions agree (the review's class "
            "pages say what is in the way).",
            conflicts,
        )


def _refusal(hierarchy: Hierarchy, conflicts: list[Conflict]) -> ConflictError:
    lines = "\n".join(f"  - {describe_conflict(hierarchy, c)}" for c in conflicts)
    return ConflictError(
        f"{len(conflicts)} conflict(s): a chosen label is an ancestor of another chosen "
        f"label, so the labels are not a partition of the classes:\n{lines}\n"
        "Settle them with admin decisions, or export with --conflicts votes, other or lift.",
        conflicts,
    )


@dataclass(frozen=True)
class Settlement:
    """How a specific label was settled, and by whom."""

    label: str
    general: str  # its group's general label: the nearest chosen label above it
    kept: bool  # kept beside the general label (else merged into it)
    by: str  # "label decision", "class decision" or "policy"
    decision: LabelDecision | Decision | None = None  # the decision behind it, if any
    kept_votes: float = 0.0  # the votes satisfied with it kept, the rest as settled ...
    merged_votes: float = 0.0  # ... and with it merged

    @property
    def by_admin(self) -> bool:
        return self.by != "policy"


@dataclass(frozen=True)
class ConflictGroup:
    """A general label and the specific labels whose nearest chosen label above is it."""

    general: str
    specifics: tuple[str, ...]  # by wnid
    settled: bool  # every specific label settled by an admin's decision


@dataclass(frozen=True)
class Resolution:
    assignment: dict[str, str]  # class wnid -> label wnid, conflict-free under `other_labels`
    other_labels: frozenset[str]  # labels that stand for "other <synset>"
    conflicts: tuple[Conflict, ...]  # every conflict found before resolving
    moved: dict[str, tuple[str, str]] = field(default_factory=dict)  # class -> (from, to)
    lifted: dict[str, str] = field(default_factory=dict)  # merged label -> the kept label above
    settlements: dict[str, Settlement] = field(default_factory=dict)  # specific label -> how
    groups: tuple[ConflictGroup, ...] = ()  # by general label wnid
    names: dict[str, str] = field(default_factory=dict)  # general label -> lemma an admin chose
    reasons: dict[str, str] = field(default_factory=dict)  # moved or "other" class -> why
    broken: tuple[str, ...] = ()  # decisions that do not hold, and why
    policy: str = DEFAULT_POLICY

    def split(self, group: ConflictGroup) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(kept, merged): the group's labels as settled now, by an admin's decision
        where there is one, else by the policy (its proposal)."""
        kept = tuple(w for w in group.specifics if self.settlements[w].kept)
        return kept, tuple(w for w in group.specifics if w not in kept)

    def check_decisions(self) -> None:
        """Raise `DecisionConflictError` when a decision does not hold."""
        if self.broken:
            raise DecisionConflictError(self.broken, list(self.conflicts))


def find_conflicts(
    hierarchy: Hierarchy, labels: Iterable[str], other_labels: Iterable[str] = ()
) -> list[Conflict]:
    """Every (general, specific) pair among `labels` where general is an ancestor of
    specific, except where general is an `other` label, sorted."""
    chosen = set(labels)
    exempt = set(other_labels)
    # Sorted by a tuple key: the dataclass's own comparisons took seconds at 40,000.
    return sorted(
        (
            Conflict(general, specific)
            for specific in chosen
            for general in hierarchy.ancestors(specific) & chosen
            if general not in exempt
        ),
        key=lambda c: (c.general, c.specific),
    )


class _Problem:
    """The classes, their chosen labels and votes, as the search over settlements needs them.
    Its answers are taken from the last resolution on the hierarchy where their inputs are
    the same (`clustering.conflict_memo`)."""

    def __init__(
        self,
        hierarchy: Hierarchy,
        assignment: Mapping[str, str],
        scores: Mapping[str, Mapping[str, float]],
        fixed: set[str],
        places: Chosen,
    ) -> None:
        self.hierarchy = hierarchy
        self.assignment = assignment
        self.scores = scores
        self.fixed = frozenset(fixed)
        self.chosen = places.labels
        # Per class: the chosen labels on its chain, deepest first.
        self.candidates = places.candidates
        self.above = places.above
        self.above_by_depth = places.above_by_depth
        # The classes whose outcome a label's settlement can change, decided ones and
        # those without votes (they satisfy none either way) aside: `below[w]`, those whose
        # own label is w or lies above it; `above_of[w][label]`, those whose label lies
        # elsewhere (below w, or on another path), which only w's settlement moves while
        # their label is merged: a kept label holds its classes whatever lies above it.
        self.below: dict[str, list[str]] = {}
        self.above_of: dict[str, dict[str, list[str]]] = {}
        candidates = self.candidates
        for c, label in assignment.items():
            if c in fixed or not scores.get(c):
                continue
            for w in candidates[c]:
                if w == label or label in self.above[w]:
                    self.below.setdefault(w, []).append(c)
                else:
                    self.above_of.setdefault(w, {}).setdefault(label, []).append(c)
        self._last = last_search(hierarchy)
        self._moved, self._changed = (
            changes(self._last, assignment, scores, self.fixed, candidates)
            if self._last is not None
            else (set(), set())
        )
        # The last resolution's final labels are taken only over the same classes in the
        # same order: a dict of them is the resolution's assignment.
        self._same_classes = self._last is not None and list(self._last.assignment) == list(
            assignment
        )
        self._finals: list[tuple[frozenset[str], dict[str, str]]] = []
        self._touching: dict[str, tuple[frozenset[str], frozenset[str]]] = {}
        self._deltas: dict[tuple[str, frozenset[str]], tuple[float, float]] = {}
        self._gains: dict[tuple[str, bool, frozenset[str]], tuple[float, float]] = {}

    def _reused(self, label: str, answers: str, key):
        """The answer the last resolution kept under `key` in its `answers` (a field of
        `LastSearch`), where `label`'s inputs did not change since; else None."""
        if self._last is None or label in self._changed:
            return None
        return getattr(self._last, answers).get(key)

    def final(self, class_wnid: str, kept: set[str]) -> str:
        # Plain loops: the search asks hundreds of thousands of times at ImageNet-21k's
        # size, where a generator's set-up was a third of the time.
        label = self.assignment[class_wnid]
        anchor = label
        if label not in kept:
            for w in self.above_by_depth[label]:
                if w in kept:
                    anchor = w
                    break
        above = self.above
        for w in self.candidates[class_wnid]:
            if w in kept and (w == anchor or anchor in above[w]):
                return w
        return anchor

    def finals(self, kept: set[str]) -> dict[str, str]:
        """class -> `final(class, kept)`, for every class (not to be changed: it is kept).
        Where the last resolution asked of kept labels that differ by a few, its answers
        are taken for the classes whose labels and chains did not change and whose chains
        hold none of the labels that differ: the rest is asked again."""
        frozen = frozenset(kept)
        for known_kept, known in self._finals:
            if known_kept == frozen:
                return known
        nearest = None
        if self._same_classes:
            differing = [(len(k ^ frozen), k ^ frozen, known) for k, known in self._last.finals]
            nearest = min(differing, key=lambda item: item[0], default=None)
        if nearest is None or nearest[0] > FINALS_REDONE_LABELS:
            found = {c: self.final(c, kept) for c in self.assignment}
        else:
            found = dict(nearest[2])
            descendants = self.hierarchy.descendants
            for c in self._moved.union(*(descendants.get(w, ()) for w in nearest[1])):
                if c in found:
                    found[c] = self.final(c, kept)
        self._finals.append((frozen, found))
        return found

    def total(self, kept: set[str]) -> float:
        """The votes satisfied under `kept`, summed in `score`'s order."""
        total = 0.0
        finals = self.finals(kept)
        for c, votes in self.scores.items():
            if votes:
                total += votes.get(finals[c], 0.0)
        return total

    def score(self, classes: Iterable[str], kept: set[str]) -> float:
        total = 0.0
        scores, final = self.scores, self.final
        for c in classes:
            votes = scores.get(c)
            if votes:
                total += votes.get(final(c, kept), 0.0)
        return total

    def _moved_score(self, label: str, kept: set[str]) -> float:
        """The votes satisfied, under `kept`, among the classes `label`'s settlement can
        move (see `__init__`); the others' are the same kept or merged."""
        total = self.score(self.below.get(label, ()), kept)
        for own, classes in self.above_of.get(label, {}).items():
            if own not in kept:
                total += self.score(classes, kept)
        return total

    def touching(self, label: str) -> frozenset[str]:
        """The labels whose settlement's votes change when `label`'s does: those on the
        chains of the classes it can move."""
        return self._places(label)[0]

    def _places(self, label: str) -> tuple[frozenset[str], frozenset[str]]:
        """(`touching(label)`, the same without `label`)."""
        found = self._touching.get(label)
        if found is None:
            found = self._reused(label, "touching", label)
            if found is None:
                classes = [
                    *self.below.get(label, ()),
                    *chain(*self.above_of.get(label, {}).values()),
                ]
                touching = frozenset(w for c in classes for w in self.candidates[c])
                found = (touching, touching - {label})
            self._touching[label] = found
        return found

    def delta(self, label: str, kept: set[str]) -> tuple[float, float]:
        """`gain` less what is the same either way: enough to compare the two. A function
        of `label`'s inputs and of which labels it touches are kept, itself aside."""
        key = (label, self._places(label)[1] & kept)
        found = self._deltas.get(key)
        if found is None:
            found = self._reused(label, "deltas", key) or self._delta(label, kept)
            self._deltas[key] = found
        return found

    def _delta(self, label: str, kept: set[str]) -> tuple[float, float]:
        # `kept` is changed and restored rather than copied: the search asks tens of
        # thousands of times at ImageNet-21k's size, with thousands of labels kept.
        was_kept = label in kept
        try:
            kept.add(label)
            with_it = self._moved_score(label, kept)
            kept.discard(label)
            without = self._moved_score(label, kept)
        finally:
            if was_kept:
                kept.add(label)
        return with_it, without

    def gain(self, label: str, kept: set[str], final: Mapping[str, str]) -> tuple[float, float]:
        """(votes satisfied with `label` kept, with it merged), the rest as in `kept`, among
        the classes whose chain holds it; `final` is each class's label under `kept`."""
        key = (label, label in kept, self._places(label)[1] & kept)
        found = self._gains.get(key)
        if found is None:
            found = self._reused(label, "gains", key)
        if found is None:
            with_it, without = self.delta(label, kept)
            same = sum(
                self.scores[c].get(final[c], 0.0)
                for own, classes in self.above_of.get(label, {}).items()
                if own in kept
                for c in classes
            )
            found = (with_it + same, without + same)
        self._gains[key] = found
        return found

    def keep(self) -> None:
        """Leave this resolution's inputs and answers to the next one on the hierarchy."""
        keep_search(
            self.hierarchy,
            LastSearch(
                dict(self.assignment),
                dict(self.scores),
                self.fixed,
                self.candidates,
                self._touching,
                self._deltas,
                self._gains,
                tuple(self._finals),
            ),
        )


def resolve_conflicts(
    hierarchy: Hierarchy,
    assignment: Mapping[str, str],
    policy: str = DEFAULT_POLICY,
    *,
    scores: Mapping[str, Mapping[str, float]] | None = None,
    decided: Mapping[str, Decision] | None = None,
    label_decisions: Iterable[LabelDecision] = (),
    undecided: Iterable[str] = (),
) -> Resolution:
    """The assignment made conflict-free (see the module's docstring).

    assignment: class wnid -> its chosen label (the votes' winner, or the decision's);
    scores: class wnid -> {label: votes} (default: one vote for its chosen label);
    decided: class wnid -> its latest class decision, which must hold;
    label_decisions: every label decision (the latest naming a label counts);
    undecided: classes that keep their own synset for want of votes: nobody's choice
        yet, so their labels are always kept and settle no conflict.
    """
    if policy not in POLICIES:
        raise ValueError(
            f"unknown conflict policy {policy!r}; choose one of: {', '.join(POLICIES)}"
        )
    decided = dict(decided or {})
    places = chosen_places(hierarchy, frozenset(assignment.values()))
    conflicts = places.conflicts
    if not conflicts:
        return Resolution(dict(assignment), frozenset(), (), policy=policy)
    if scores is None:
        scores = {c: {label: 1.0} for c, label in assignment.items()}
    problem = _Problem(hierarchy, assignment, scores, set(decided), places)
    standing = {assignment[c] for c in undecided} - {
        label for c, label in assignment.items() if c not in set(undecided)
    }
    specifics = sorted(w for w in problem.chosen if problem.above[w] and w not in standing)
    general_of = {w: problem.above_by_depth[w][0] for w in specifics}
    settled, broken = _admin_settlements(hierarchy, problem, general_of, decided, label_decisions)
    free = [w for w in specifics if w not in settled]
    if free and policy == "refuse":
        raise _refusal(hierarchy, [c for c in conflicts if c.specific in free])
    kept = {w for w in problem.chosen if not problem.above[w]}
    kept |= {w for w, (keep, _, _) in settled.items() if keep}
    # Labels kept for want of votes stay, but a lift takes them too, as it takes all.
    kept |= standing if policy != "lift" else {w for w in standing if not problem.above[w]}
    chosen_free = _settle_free(problem, free, kept, policy)
    kept |= chosen_free
    final = dict(problem.finals(kept))
    settlements = {}
    for w in specifics:
        kept_votes, merged_votes = problem.gain(w, kept, final)
        keep, by, decision = settled.get(w, (w in kept, "policy", None))
        settlements[w] = Settlement(w, general_of[w], keep, by, decision, kept_votes, merged_votes)
    problem.keep()
    by_general: dict[str, list[str]] = {}
    for w in specifics:
        by_general.setdefault(general_of[w], []).append(w)
    groups = tuple(
        ConflictGroup(g, tuple(ws), all(settlements[w].by_admin for w in ws))
        for g, ws in sorted(by_general.items())
    )
    used = set(final.values())  # chosen labels all: their conflicts are chosen ones' too
    other = frozenset(general for w in used for general in problem.above[w] if general in used)
    names = _chosen_names(label_decisions, problem.chosen)
    moved = {c: (label, final[c]) for c, label in assignment.items() if final[c] != label}
    lifted = {
        w: next(a for a in problem.above_by_depth[w] if a in kept)
        for w in problem.chosen
        if w not in kept
    }
    for c, decision in sorted(decided.items()):
        if final[c] != decision.label:
            broken.append(
                f"{_decision_text(hierarchy, decision)} ends in {hierarchy.label(final[c])} "
                f"({final[c]}) instead"
            )
    resolution = Resolution(
        final,
        other,
        conflicts,
        moved,
        lifted,
        settlements,
        groups,
        names,
        {},
        tuple(dict.fromkeys(broken)),
        policy,
    )
    reasons = _reasons(hierarchy, resolution, assignment, decided)
    return replace(resolution, reasons=reasons)


def _decision_text(hierarchy: Hierarchy, decision: Decision) -> str:
    return (
        f"the decision on {hierarchy.label(decision.wnid)} ({decision.wnid}) as "
        f"{hierarchy.label(decision.label)} ({decision.label}) by {decision.admin}"
    )


def _label_decision_text(hierarchy: Hierarchy, decision: LabelDecision) -> str:
    return (
        f"{decision.admin}'s label decision on {hierarchy.label(decision.general)} "
        f"({decision.general}) of {decision.time:%Y-%m-%d %H:%M}"
    )


def _admin_settlements(
    hierarchy: Hierarchy,
    problem: _Problem,
    general_of: Mapping[str, str],
    decided: Mapping[str, Decision],
    label_decisions: Iterable[LabelDecision],
) -> tuple[dict[str, tuple[bool, str, LabelDecision | Decision]], list[str]]:
    """specific label -> (kept, "label decision" or "class decision", the decision),
    from the decisions in time order (a later one overrides an earlier one, which is
    then broken: the list of why)."""
    needs: list[tuple[object, int, str, bool, str, LabelDecision | Decision, str]] = []
    for order, decision in enumerate(label_decisions):
        if decision.general not in problem.chosen:
            continue
        for keep, wnids in ((True, decision.keep), (False, decision.merge)):
            for w in wnids:
                if w in general_of and decision.general in problem.above[w]:
                    text = _label_decision_text(hierarchy, decision)
                    needs.append((decision.time, order, w, keep, "label decision", decision, text))
    for class_wnid, decision in decided.items():
        text = _decision_text(hierarchy, decision)
        if decision.label in general_of:
            needs.append(
                (decision.time, -1, decision.label, True, "class decision", decision, text)
            )
        for w in problem.candidates[class_wnid]:
            if w in general_of and decision.label in problem.above[w]:
                needs.append((decision.time, -1, w, False, "class decision", decision, text))
    settled: dict[str, tuple[bool, str, LabelDecision | Decision]] = {}
    said: dict[str, str] = {}
    broken = []
    for _, _, w, keep, by, decision, text in sorted(needs, key=lambda n: (n[0], n[1], n[2])):
        earlier = settled.get(w)
        if earlier is not None and earlier[0] != keep and earlier[1] == "class decision":
            name = f"{hierarchy.label(w)} ({w})"
            broken.append(
                f"{said[w]} needs {name} {'kept' if earlier[0] else 'merged'}, but the later "
                f"{text} needs it {'kept' if keep else 'merged'}"
            )
        settled[w] = (keep, by, decision)
        said[w] = text
    return settled, broken


def _settle_free(problem: _Problem, free: list[str], kept: set[str], policy: str) -> set[str]:
    """The free specific labels to keep, by `policy` (see the module's docstring)."""
    if policy == "other":
        return set(free)
    if policy == "lift":
        return set()
    ends = []
    order = sorted(free, key=lambda w: (-problem.hierarchy.synsets[w].depth, w))
    for start in (set(free), set()):
        state = kept | start
        # Labels whose votes kept and merged are unchanged since they last did not flip
        # are passed over: they would not flip now either, so every sweep ends where a
        # sweep asking each label would (a sweep asked all 5,000 labels of ImageNet-21k).
        settled: set[str] = set()
        changed = True
        while changed:
            changed = False
            for w in order:
                if w in settled:
                    continue
                with_it, without = problem.delta(w, state)
                if w in state and without > with_it + 1e-9:
                    state.discard(w)
                elif w not in state and with_it > without + 1e-9:
                    state.add(w)
                else:
                    settled.add(w)
                    continue
                changed = True
                settled -= problem.touching(w)
        ends.append(state)
    total = [problem.total(state) for state in ends]
    best = ends[1] if total[1] > total[0] + 1e-9 else ends[0]
    return best & set(free)


def _chosen_names(label_decisions: Iterable[LabelDecision], chosen: set[str]) -> dict[str, str]:
    """general label -> the lemma the latest label decision naming it chose."""
    names: dict[str, str] = {}
    for decision in sorted(label_decisions, key=lambda d: d.time):
        if decision.name and decision.general in chosen:
            names[decision.general] = decision.name
    return names


def _settled_by(hierarchy: Hierarchy, settlement: Settlement, policy: str) -> str:
    if settlement.by == "label decision":
        return _label_decision_text(hierarchy, settlement.decision)
    if settlement.by == "class decision":
        return _decision_text(hierarchy, settlement.decision)
    votes = f"{settlement.kept_votes:g} votes kept against {settlement.merged_votes:g} merged"
    return f"the proposed resolution ({policy} policy; {votes})"


def _name_order(hierarchy: Hierarchy) -> dict[str, tuple[str, str]]:
    """synset -> its place in the order of names (casefolded, then by wnid), made once
    per hierarchy: the "other" reasons ask of 32,000 labels at 21,843 classes."""
    order = hierarchy.derived.get("name_order")
    if order is None:
        order = hierarchy.derived["name_order"] = {
            w: (synset.label.casefold(), w) for w, synset in hierarchy.synsets.items()
        }
    return order


def _rest_reason(
    hierarchy: Hierarchy, resolution: Resolution, general: str, below: Iterable[str]
) -> str:
    """Why a class is in the "other" rest of `general`: the labels kept `below` it, and
    the settlements that kept them (those of its own group, by one act or more)."""
    below = list(below)
    # The first three by name, of thousands below a label near the root: not all sorted.
    first = heapq.nsmallest(3, below, key=_name_order(hierarchy).__getitem__)
    shown = ", ".join(hierarchy.label(w) for w in first)
    more = f" and {len(below) - 3} more" if len(below) > 3 else ""
    settlements = resolution.settlements
    # Each way of settling written once, not once per label settled so.
    ways: dict[tuple, Settlement] = {}
    for w in below:
        settled = settlements.get(w)
        if settled is not None and settled.general == general:
            key = (settled.by, settled.decision, settled.kept_votes, settled.merged_votes)
            ways.setdefault(key, settled)
    sources = {_settled_by(hierarchy, way, resolution.policy) for way in ways.values()} or {
        "too few votes yet"
    }
    by = sources.pop() if len(sources) == 1 else f"{len(sources)} settlements"
    chose = f"{hierarchy.label(general)} ({general})"
    return f"the rest of {chose} beside the labels kept below it ({shown}{more}), kept by {by}"


def _reasons(
    hierarchy: Hierarchy,
    resolution: Resolution,
    assignment: Mapping[str, str],
    decided: Mapping[str, Decision],
) -> dict[str, str]:
    """class -> why its label is not its chosen label whole: moved down, merged up, or
    the "other" rest of a general label."""
    reasons = {}
    settlements = resolution.settlements
    # Each "other" label -> the labels below it, found from below in one pass: asking
    # every label about every "other" label took a minute at ImageNet-21k's size.
    below: dict[str, list[str]] = {w: [] for w in resolution.other_labels}
    for w in set(resolution.assignment.values()):
        for general in hierarchy.ancestors(w) & resolution.other_labels:
            below[general].append(w)
    rests: dict[str, str] = {}  # an "other" label -> its classes' reason, the same for all
    for c, label in assignment.items():
        if c in decided:
            continue
        final = resolution.assignment[c]
        if final == label:
            if final in resolution.other_labels:
                if final not in rests:
                    rests[final] = _rest_reason(hierarchy, resolution, final, below[final])
                reasons[c] = rests[final]
            continue  # most classes: their names are written only for a move or merge
        chose = f"{hierarchy.label(label)} ({label})"
        into = f"{hierarchy.label(final)} ({final})"
        if label in hierarchy.ancestors(final):
            # No settlement for a label kept only for want of votes on its own class (an
            # inner class of ImageNet-21k nobody voted on yet): no conflict settled it.
            settled = settlements.get(final)
            by = (
                _settled_by(hierarchy, settled, resolution.policy)
                if settled
                else "too few votes yet"
            )
            reasons[c] = (
                f"moved from {chose}, its chosen label, into {into}, a label kept below it on "
                f"its chain by {by}"
            )
        else:
            merged = settlements.get(label)
            how = (
                f"{chose} is merged by {_settled_by(hierarchy, merged, resolution.policy)}"
                if merged is not None
                else f"{chose} is not kept"
            )
            reasons[c] = f"merged from {chose}, its chosen label, into {into}: {how}"
    return reasons


class CollapseError(ConflictError):
    """A lift that puts more than `max_share` of the classes under one label.
    `collapsed` maps each such label to the labels lifted into it (sorted)."""

    def __init__(
        self, message: str, conflicts: list[Conflict], collapsed: dict[str, list[str]]
    ) -> None:
        self.collapsed = collapsed
        super().__init__(message, conflicts)


def check_collapse(
    hierarchy: Hierarchy, resolution: Resolution, max_share: float = DEFAULT_MAX_SHARE
) -> None:
    """Raise `CollapseError` where lifting put more than `max_share` of the classes
    under one label. A label that big by its own classes is no lift's doing, and
    passes: only labels that the policy lifted something into are measured, not
    the merges an admin decided."""
    sizes = Counter(resolution.assignment.values())
    into: dict[str, list[str]] = {}
    for label, general in resolution.lifted.items():
        settled = resolution.settlements.get(label)
        if settled is None or not settled.by_admin:  # an admin's merge is no policy's collapse
            into.setdefault(general, []).append(label)
    total = len(resolution.assignment)
    collapsed = {
        general: sorted(labels)
        for general, labels in sorted(into.items())
        if sizes[general] > max_share * total
    }
    if collapsed:
        raise CollapseError(
            "\n".join(
                _collapse_line(hierarchy, resolution, general, sizes[general], labels, max_share)
                for general, labels in collapsed.items()
            )
            + "\nKeep both with --conflicts other, settle the votes by admin decisions, or "
            "pass --allow-collapse.",
            list(resolution.conflicts),
            collapsed,
        )


def _collapse_line(
    hierarchy: Hierarchy,
    resolution: Resolution,
    general: str,
    size: int,
    labels: list[str],
    max_share: float,
    shown: int = 10,
) -> str:
    """One collapsed label: its `size` (classes) and the largest labels lifted into it."""
    total = len(resolution.assignment)
    brought = Counter(before for before, after in resolution.moved.values() if after == general)
    largest = sorted(labels, key=lambda label: (-brought[label], hierarchy.label(label), label))
    listed = ", ".join(
        f"{hierarchy.label(label)} ({label}, {brought[label]} "
        f"class{'es' if brought[label] != 1 else ''})"
        for label in largest[:shown]
    )
    more = f" and {len(labels) - shown} more labels" if len(labels) > shown else ""
    return (
        f"lift would put {size} of the {total} classes ({100 * size / total:.3g} %) under "
        f"{hierarchy.label(general)} ({general}), more than the {100 * max_share:.3g} % "
        f"allowed; it lifts into it: {listed}{more}"
    )


@dataclass(frozen=True, order=True)
class Overlap:
    wnid: str  # a class ...
    label: str  # ... labelled this ...
    also_under: str  # ... that also lies under this chosen label, on another hypernym path


def find_overlaps(hierarchy: Hierarchy, assignment: Mapping[str, str]) -> list[Overlap]:
    """Classes lying under a chosen label other than their own that is neither an
    ancestor nor a descendant of it (possible only through several hypernym paths;
    the ancestor cases are `find_conflicts`'s)."""
    chosen = set(assignment.values())
    overlaps = []
    for wnid, label in assignment.items():
        related = hierarchy.ancestors(label) | {label}
        for also in sorted(chosen.intersection(hierarchy.chain_wnids(wnid)) - related):
            if label not in hierarchy.ancestors(also):
                overlaps.append(Overlap(wnid, label, also))
    return sorted(overlaps)
