"""Soundness: the chosen labels must partition the classes.

A *conflict* is a chosen label that is a WordNet ancestor of another chosen
label ("bird" beside "ostrich"): a classifier would be asked to tell an ostrich
from a bird. Every conflict is found (`find_conflicts`) and resolved by a
policy (`resolve_conflicts`):

- `other` (the default): the specific label stays and the general one becomes
  "other bird", the synset less the labels below it; a class that voted "bird"
  but lies under a chosen label below it (a "hen" voted "bird" while "chicken"
  is a label) moves down into that label, the most specific one on its chain.
  Every voted label survives, and the change stays local.
- `lift`: the specific label's classes move into the general label (ostrich ->
  bird), so every label is its synset whole. It is not the default because one
  class voted "mammal" lifts all 218 mammals of ImageNet-1k into it: on the
  popularity strategy's 172 conflicts, lift leaves 177 labels, other 323.
  Worse, one class voted "physical entity" lifts 997 classes into it, so
  `check_collapse` refuses a lift that puts more than a stated share of the
  classes under one label (`CollapseError`, naming what was lifted into what);
  the command line asks it at `DEFAULT_MAX_SHARE` unless `--allow-collapse`.
- `refuse`: nothing is exported; `ConflictError` lists every conflict for an
  admin to settle by decisions.

Classes with several hypernym paths can also lie under two chosen labels that
are not ancestors of each other ("black grouse" under both "game" and "bird").
That is no conflict by the rule above, no policy can undo it without merging
unrelated labels, and `find_overlaps` reports it for an admin to look at.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from clustering.errors import ClusteringError
from clustering.hierarchy import Hierarchy

__all__ = [
    "DEFAULT_MAX_SHARE",
    "DEFAULT_POLICY",
    "POLICIES",
    "CollapseError",
    "Conflict",
    "ConflictError",
    "Overlap",
    "Resolution",
    "check_collapse",
    "describe_conflict",
    "find_conflicts",
    "find_overlaps",
    "resolve_conflicts",
]

POLICIES = ("lift", "other", "refuse")
DEFAULT_POLICY = "other"
# The most of the classes that `lift` may put under one label unless asked. On
# ImageNet-1k the largest groups a person names stay below it: "dog" (118 classes),
# and "mammal" (218), the largest label of popularity and of depth k=1 under lift;
# "animal" (398) and the near-root labels of depth k >= 2 (958 and more) do not.
DEFAULT_MAX_SHARE = 0.25


@dataclass(frozen=True, order=True)
class Conflict:
    general: str  # a chosen label's wnid ...
    specific: str  # ... that is an ancestor of this chosen label's wnid


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


def _refusal(hierarchy: Hierarchy, conflicts: list[Conflict]) -> ConflictError:
    lines = "\n".join(f"  - {describe_conflict(hierarchy, c)}" for c in conflicts)
    return ConflictError(
        f"{len(conflicts)} conflict(s): a chosen label is an ancestor of another chosen "
        f"label, so the labels are not a partition of the classes:\n{lines}\n"
        "Settle them with admin decisions, or export with --conflicts lift or other.",
        conflicts,
    )


@dataclass(frozen=True)
class Resolution:
    assignment: dict[str, str]  # class wnid -> label wnid, conflict-free under `other_labels`
    other_labels: frozenset[str]  # labels that stand for "other <synset>"
    conflicts: tuple[Conflict, ...]  # every conflict found before resolving
    moved: dict[str, tuple[str, str]] = field(default_factory=dict)  # class -> (from, to)
    lifted: dict[str, str] = field(default_factory=dict)  # lift: label -> the label it went into


def find_conflicts(
    hierarchy: Hierarchy, labels: Iterable[str], other_labels: Iterable[str] = ()
) -> list[Conflict]:
    """Every (general, specific) pair among `labels` where general is an ancestor of
    specific, except where general is an `other` label, sorted."""
    chosen = set(labels)
    exempt = set(other_labels)
    return sorted(
        Conflict(general, specific)
        for specific in chosen
        for general in hierarchy.ancestors(specific) & chosen
        if general not in exempt
    )


def resolve_conflicts(
    hierarchy: Hierarchy, assignment: Mapping[str, str], policy: str = DEFAULT_POLICY
) -> Resolution:
    """The assignment made conflict-free by `policy` (see the module's docstring)."""
    if policy not in POLICIES:
        raise ValueError(
            f"unknown conflict policy {policy!r}; choose one of: {', '.join(POLICIES)}"
        )
    conflicts = find_conflicts(hierarchy, assignment.values())
    if not conflicts:
        return Resolution(dict(assignment), frozenset(), ())
    if policy == "refuse":
        raise _refusal(hierarchy, conflicts)
    chosen = set(assignment.values())
    if policy == "other":
        resolved = {
            wnid: _push_down(hierarchy, wnid, label, chosen) for wnid, label in assignment.items()
        }
        remaining = find_conflicts(hierarchy, resolved.values())
        other = frozenset(c.general for c in remaining)
    else:
        target = {label: _lift_target(hierarchy, label, chosen) for label in chosen}
        resolved = {wnid: target[label] for wnid, label in assignment.items()}
        other = frozenset()
    moved = {
        wnid: (label, resolved[wnid])
        for wnid, label in assignment.items()
        if resolved[wnid] != label
    }
    lifted = (
        {label: target[label] for label in sorted(chosen) if target[label] != label}
        if policy == "lift"
        else {}
    )
    return Resolution(resolved, other, tuple(conflicts), moved, lifted)


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
    passes: only labels that something was lifted into are measured."""
    sizes = Counter(resolution.assignment.values())
    into: dict[str, list[str]] = {}
    for label, general in resolution.lifted.items():
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


def _push_down(hierarchy: Hierarchy, class_wnid: str, label: str, chosen: set[str]) -> str:
    """The most specific (deepest, then lowest wnid) chosen label on the class's chain
    below `label`, else `label`:
    under the `other` policy a class labelled "bird" that is an ostrich, with
    "ostrich" chosen, belongs to "ostrich", not to "other bird"."""
    below = [
        w
        for w in hierarchy.chain_wnids(class_wnid)
        if w in chosen and label in hierarchy.ancestors(w)
    ]
    return hierarchy.deepest(below) if below else label


def _lift_target(hierarchy: Hierarchy, label: str, chosen: set[str]) -> str:
    """The label itself when no chosen label is above it; else the topmost chosen label
    above it. Where a class has several hypernym paths, two unrelated chosen labels
    can both be topmost above it ("domestic animal", "canine"): the one over more
    ImageNet classes wins, then the lower wnid, so the result is deterministic.
    Lifting to the topmost leaves no chosen label above another, so one pass suffices.
    """
    above = hierarchy.ancestors(label) & chosen
    if not above:
        return label
    tops = [g for g in above if not hierarchy.ancestors(g) & chosen]
    return min(tops, key=lambda g: (-len(hierarchy.descendants.get(g, ())), g))


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
