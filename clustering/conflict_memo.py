"""What a conflict resolution (`clustering.conflicts`) leaves for the next one on the
same hierarchy, so that the aggregation after a vote does not redo what the vote left
as it was.

After one vote almost every class has the labels, votes and chain of chosen labels it
had, and the search over settlements asks again, of almost every label, what keeping it
and merging it satisfy with the labels around it settled as before. Each answer is a
function of the label's own inputs (the classes it can move: their labels, votes and
chosen labels on their chains) and of which labels on those chains are kept, so an
answer is taken from the last resolution only for a label whose inputs are equal, under
the very same kept labels: exactly the number it would compute.

Kept in `Hierarchy.derived`, the last resolution's: at 21,843 classes the search's
questions were half of a resolution (benchmarks/aggregate_21k.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from clustering.hierarchy import Hierarchy

__all__ = ["LastSearch", "changes", "keep_search", "last_search"]

_SEARCH = "conflict_search"


@dataclass(frozen=True)
class LastSearch:
    """A resolution's inputs and the answers its search computed (`clustering.conflicts`)."""

    assignment: dict[str, str]
    scores: Mapping[str, Mapping[str, float]]
    fixed: frozenset[str]
    candidates: dict[str, tuple[str, ...]]
    # label -> (the labels its answers depend on, the same without itself)
    touching: dict[str, tuple[frozenset[str], frozenset[str]]]
    # (label, the kept labels it depends on, itself aside) -> (votes kept, votes merged)
    deltas: dict[tuple[str, frozenset[str]], tuple[float, float]]
    # (label, whether it is kept, the kept labels it depends on, itself aside) -> its
    # settlement's (votes kept, votes merged)
    gains: dict[tuple[str, bool, frozenset[str]], tuple[float, float]]
    # (kept labels, class -> its final label under them), for the kept labels asked of
    finals: tuple[tuple[frozenset[str], dict[str, str]], ...]


def last_search(hierarchy: Hierarchy) -> LastSearch | None:
    return hierarchy.derived.get(_SEARCH)


def keep_search(hierarchy: Hierarchy, search: LastSearch) -> None:
    hierarchy.derived[_SEARCH] = search


def changes(
    last: LastSearch,
    assignment: Mapping[str, str],
    scores: Mapping[str, Mapping[str, float]],
    fixed: frozenset[str],
    candidates: Mapping[str, tuple[str, ...]],
) -> tuple[set[str], set[str]]:
    """What may differ from `last`'s answers: (the classes whose label or chain of chosen
    labels changed, whose final labels may; the labels whose answers may: those on the
    chains, then or now, of the classes whose label, votes, chain of chosen labels or
    being decided changed)."""
    moved: set[str] = set()
    changed: set[str] = set()
    for c, label in assignment.items():
        own, before = scores.get(c), last.scores.get(c)
        placed = label == last.assignment.get(c) and (
            candidates[c] is last.candidates.get(c) or candidates[c] == last.candidates.get(c)
        )
        if not placed:
            moved.add(c)
        if not placed or (own is not before and own != before) or (c in fixed) != (c in last.fixed):
            changed.update(candidates[c], last.candidates.get(c, ()))
    for c in last.assignment.keys() - assignment.keys():
        changed.update(last.candidates.get(c, ()))
    return moved, changed
