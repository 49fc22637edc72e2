"""The paper's automatic strategies (section 3), as baselines and as the survey's
pre-selected suggestion.

- `depth_assignment` ("k levels up", 3.1): each class goes to its ancestor k
  steps up its longest hypernym path. It fails where WordNet's depth is uneven:
  dog breeds sit 1 to 3 levels below "dog".
- `popularity_assignment` ("most popular ancestor", 3.2): each class goes to the
  synset of its chain with the highest search count, leaving out the words in
  `TOO_GENERAL`: near the root, words like "whole" or "animal" are searched more
  than "dog" and would swallow whole branches (the paper's "animal" 2.9B >
  "dog" 2.2B). Homonyms still mislead it ("python" the language).

Both return class wnid -> label wnid; `strategy_cil` resolves the conflicts the
uneven depths cause and builds a CIL through the same writer as the votes.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from clustering.cil import CIL, build_cil, normalize_name
from clustering.conflicts import DEFAULT_POLICY, Resolution, resolve_conflicts
from clustering.hierarchy import Hierarchy
from clustering.popularity import CountProvider, term_for_synset

__all__ = [
    "STRATEGIES", "TOO_GENERAL", "StrategyResult", "depth_assignment", "popularity_assignment",
    "strategy_cil", "suggest_label", "synset_counts",
]

STRATEGIES = ("depth", "popularity")

# First lemmas (in plain words) of synsets too general to name what a picture
# shows, though searched often: the top of WordNet (entity .. whole, living
# thing, organism), the broad animal groups a person does not answer with
# (animal, chordate, vertebrate, invertebrate, placental), and the abstract
# artifact categories (instrumentality, device, container, covering,
# commodity, ...). Chosen by reading the synsets above 10 or more of the
# ImageNet-1k classes; concrete groups a person does name ("dog", "bird",
# "fish", "vehicle", "furniture", "tool") are not listed.
TOO_GENERAL: frozenset[str] = frozenset({
    # the top of the hierarchy
    "entity", "physical entity", "abstraction", "object", "whole", "thing", "matter",
    "substance", "solid", "part", "natural object",
    # living things and broad animal groups
    "living thing", "organism", "being", "animal", "chordate", "vertebrate", "invertebrate",
    "placental", "aquatic vertebrate",
    # abstract artifact categories
    "artifact", "instrumentality", "device", "container", "covering", "protective covering",
    "conveyance", "commodity", "consumer goods", "durables", "equipment", "implement",
    "structure", "furnishing", "mechanism",
    # abstract food and plant categories
    "food", "nutriment", "produce", "plant part", "plant organ", "reproductive structure",
})


def depth_assignment(hierarchy: Hierarchy, k: int) -> dict[str, str]:
    """Each class -> the synset k steps above it on its longest hypernym path
    (the root where the path is shorter); k = 0 keeps the classes.

    On the longest path a class at depth d goes to a synset at depth d - k; where
    several paths are longest, the first in wnid order (root to leaf) is taken.
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 0:
        raise ValueError(f"k must be a whole number of at least 0, got {k!r}")
    assignment = {}
    for image_class in hierarchy.classes:
        paths: dict[int, list[str]] = {}
        for entry in image_class.chain:  # root first, so each path comes out in order
            for number in entry.paths:
                paths.setdefault(number, []).append(entry.wnid)
        # Path numbers vary between builds of a hierarchy (nltk's order is not fixed);
        # the paths themselves do not, so ties go to the first path in wnid order.
        path = min(paths.values(), key=lambda p: (-len(p), p))
        assignment[image_class.wnid] = path[max(len(path) - 1 - k, 0)]
    return assignment


def synset_counts(hierarchy: Hierarchy, counts: Mapping[str, int] | CountProvider
                  ) -> dict[str, int]:
    """synset wnid -> search count of its term (`term_for_synset`). A provider is
    asked once per term; a term the mapping lacks or the provider cannot count
    (a `CountError`, e.g. a term missing from a counts file) counts 0."""
    terms = {wnid: term_for_synset(s.lemmas) for wnid, s in hierarchy.synsets.items()}
    if isinstance(counts, CountProvider):
        fetched = counts.count_many(sorted(set(terms.values())), progress=False)
        return {wnid: fetched[term].count or 0 for wnid, term in terms.items()}
    return {wnid: counts.get(term, 0) or 0 for wnid, term in terms.items()}


def _most_popular(hierarchy: Hierarchy, class_wnid: str, by_synset: Mapping[str, int],
                  too_general: Collection[str]) -> str:
    """The chain's synset with the highest count, too-general words left out; ties
    go to the more specific (deeper, then the lowest wnid). The class itself when
    nothing else is left."""
    candidates = [w for w in hierarchy.chain_wnids(class_wnid)
                  if normalize_name(hierarchy.label(w)) not in too_general or w == class_wnid]
    return min(candidates, key=lambda w: (-by_synset.get(w, 0), -hierarchy.synsets[w].depth, w))


def popularity_assignment(hierarchy: Hierarchy, counts: Mapping[str, int] | CountProvider,
                          too_general: Collection[str] = TOO_GENERAL) -> dict[str, str]:
    """Each class -> its most searched ancestor (or itself); `counts` is a provider or
    a mapping term -> count (a term is a synset's first lemma in plain words)."""
    by_synset = synset_counts(hierarchy, counts)
    excluded = {normalize_name(word) for word in too_general}
    return {c.wnid: _most_popular(hierarchy, c.wnid, by_synset, excluded)
            for c in hierarchy.classes}


def suggest_label(hierarchy: Hierarchy, class_wnid: str, counts: Mapping[str, int | None],
                  too_general: Collection[str] = TOO_GENERAL) -> str:
    """The survey's pre-selected answer for one class: the most popular synset of its
    chain, as `popularity_assignment` picks it. `counts` maps synset wnid -> count
    (keys are wnids, as everywhere; `synset_counts` turns term counts into these);
    a missing or None count is 0. Returns a wnid on the class's chain."""
    by_synset = {w: counts.get(w) or 0 for w in hierarchy.chain_wnids(class_wnid)}
    excluded = {normalize_name(word) for word in too_general}
    return _most_popular(hierarchy, class_wnid, by_synset, excluded)


@dataclass(frozen=True)
class StrategyResult:
    cil: CIL
    resolution: Resolution

    @property
    def conflicts(self) -> int:
        return len(self.resolution.conflicts)


def strategy_cil(hierarchy: Hierarchy, strategy: str, *, k: int = 1,
                 counts: Mapping[str, int] | CountProvider | None = None,
                 conflicts: str = DEFAULT_POLICY,
                 too_general: Collection[str] = TOO_GENERAL) -> StrategyResult:
    """A CIL by `strategy` ("depth" with `k`, or "popularity" with `counts`), its
    conflicts resolved by the `conflicts` policy."""
    if strategy == "depth":
        assignment = depth_assignment(hierarchy, k)
        settings: dict[str, object] = {"method": "depth", "k": k}
    elif strategy == "popularity":
        if counts is None:
            raise ValueError("the popularity strategy needs search counts")
        assignment = popularity_assignment(hierarchy, counts, too_general)
        settings = {"method": "popularity",
                    "counts": counts.name if isinstance(counts, CountProvider) else "mapping",
                    "too_general": sorted(too_general)}
    else:
        raise ValueError(f"unknown strategy {strategy!r}; choose one of: {', '.join(STRATEGIES)}")
    resolution = resolve_conflicts(hierarchy, assignment, conflicts)
    provenance = {
        **settings,
        "conflicts": conflicts,
        "conflicts_resolved": len(resolution.conflicts),
        "hierarchy_version": hierarchy.version,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    return StrategyResult(build_cil(hierarchy, resolution.assignment, provenance,
                                    resolution.other_labels), resolution)
