"""The paper's automatic strategies (section 3), as baselines and as the survey's
pre-selected suggestion.

- `depth_assignment` ("k levels up", 3.1): each class goes to its ancestor k
  steps up its longest hypernym path. It fails where WordNet's depth is uneven:
  dog breeds sit 1 to 3 levels below "dog".
- `popularity_assignment` ("most popular ancestor", 3.2): each class goes to the
  synset of its chain with the highest search count, leaving out the words in
  `TOO_GENERAL`: near the root, words like "whole" or "animal" are searched more
  than "dog" and would swallow whole branches (the paper's "animal" 2.9B >
  "dog" 2.2B). Counts are shared among a word's senses
  (`clustering.familiarity`), so "crane" the bird no longer gets the machine's count.
- `entry_level_assignment` (the default suggestion): each class to the candidate
  the entry-level model (`clustering.entry_level`), fitted on human labels,
  ranks first. The survey's pre-selected answer (`suggest_label`) is the same.

All return class wnid -> label wnid; `strategy_cil` resolves the conflicts the
uneven depths cause and builds a CIL through the same writer as the votes.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

from clustering.cil import CIL, build_cil, normalize_name
from clustering.conflicts import Resolution, resolve_conflicts
from clustering.entry_level import (
    L2_GRID,
    EntryLevelModel,
    familiarities,
    fit_model,
    grouped_folds,
    load_default_model,
)
from clustering.familiarity import Familiarity, terms_for_synset
from clustering.hierarchy import Hierarchy
from clustering.popularity import CountProvider

__all__ = [
    "STRATEGIES",
    "STRATEGY_POLICY",
    "TOO_GENERAL",
    "StrategyResult",
    "assignment_result",
    "cross_fitted_priors",
    "depth_assignment",
    "entry_level_assignment",
    "entry_level_priors",
    "popularity_assignment",
    "prior_suggestions",
    "strategy_cil",
    "suggest_label",
    "synset_counts",
    "term_counts",
    "uncounted_synsets",
]

STRATEGIES = ("depth", "popularity", "entry-level")
# A strategy gives each class one label and no votes to weigh, so its conflicts are
# settled by keeping every specific label ("other"), as the compare table measures.
STRATEGY_POLICY = "other"

# First lemmas (in plain words) of synsets too general to name what a picture
# shows, though searched often: the top of WordNet (entity .. whole, living
# thing, organism), the broad animal groups a person does not answer with
# (animal, chordate, vertebrate, invertebrate, placental), and the abstract
# artifact categories (instrumentality, device, container, covering,
# commodity, ...). Chosen by reading the synsets above 10 or more of the
# ImageNet-1k classes; concrete groups a person does name ("dog", "bird",
# "fish", "vehicle", "furniture", "tool") are not listed.
TOO_GENERAL: frozenset[str] = frozenset(
    {
        # the top of the hierarchy
        "entity",
        "physical entity",
        "abstraction",
        "object",
        "whole",
        "thing",
        "matter",
        "substance",
        "solid",
        "part",
        "natural object",
        # living things and broad animal groups
        "living thing",
        "organism",
        "being",
        "animal",
        "chordate",
        "vertebrate",
        "invertebrate",
        "placental",
        "aquatic vertebrate",
        # abstract artifact categories
        "artifact",
        "instrumentality",
        "device",
        "container",
        "covering",
        "protective covering",
        "conveyance",
        "commodity",
        "consumer goods",
        "durables",
        "equipment",
        "implement",
        "structure",
        "furnishing",
        "mechanism",
        # abstract food and plant categories
        "food",
        "nutriment",
        "produce",
        "plant part",
        "plant organ",
        "reproductive structure",
    }
)


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


def term_counts(
    hierarchy: Hierarchy, counts: Mapping[str, int | None] | CountProvider
) -> dict[str, int | None]:
    """term -> count for every lemma of every synset (`terms_for_synset`). A provider is
    asked once per term; a term the mapping lacks or the provider cannot count (a
    `CountError`) is None."""
    terms = sorted({t for s in hierarchy.synsets.values() for t in terms_for_synset(s.lemmas)})
    if isinstance(counts, CountProvider):
        fetched = counts.count_many(terms, progress=False)
        return {term: fetched[term].count for term in terms}
    return {term: counts.get(term) for term in terms}


def _by_term(
    hierarchy: Hierarchy, counts: Mapping[str, int | None] | CountProvider
) -> Mapping[str, int | None]:
    """`counts` as term -> count: a mapping as it is, a provider asked (`term_counts`)."""
    return counts if isinstance(counts, Mapping) else term_counts(hierarchy, counts)


def uncounted_synsets(hierarchy: Hierarchy, counts: Mapping[str, int | None]) -> list[str]:
    """Synsets none of whose lemmas has a count: they rank as never searched."""
    return sorted(
        w
        for w, s in hierarchy.synsets.items()
        if all(counts.get(t) is None for t in terms_for_synset(s.lemmas))
    )


def synset_counts(
    hierarchy: Hierarchy, counts: Mapping[str, int | None] | CountProvider, per_sense: bool = True
) -> dict[str, int]:
    """synset wnid -> its sense-aware familiarity (`clustering.familiarity`): the best
    lemma's count times the synset's share of that word; 0 where nothing was counted.
    `per_sense=False` gives the original project's reading: the first lemma's word count."""
    by_term = _by_term(hierarchy, counts)
    if not per_sense:
        return {
            w: by_term.get(terms_for_synset(s.lemmas)[0]) or 0 for w, s in hierarchy.synsets.items()
        }
    return {w: f.count or 0 for w, f in familiarities(hierarchy, by_term).items()}


def _most_popular(
    hierarchy: Hierarchy,
    class_wnid: str,
    by_synset: Mapping[str, int],
    too_general: Collection[str],
) -> str:
    """The chain's synset with the highest count, too-general words left out; ties
    go to the more specific (deeper, then the lowest wnid). The class itself when
    nothing else is left."""
    candidates = [
        w
        for w in hierarchy.chain_wnids(class_wnid)
        if normalize_name(hierarchy.label(w)) not in too_general or w == class_wnid
    ]
    return min(candidates, key=lambda w: (-by_synset.get(w, 0), -hierarchy.synsets[w].depth, w))


def popularity_assignment(
    hierarchy: Hierarchy,
    counts: Mapping[str, int | None] | CountProvider,
    too_general: Collection[str] = TOO_GENERAL,
    per_sense: bool = True,
) -> dict[str, str]:
    """Each class -> its most familiar ancestor (or itself); `counts` is a provider or
    a mapping term -> count (terms are lemmas in plain words). `per_sense=False` is the
    original project's rule, on word counts (see `synset_counts`)."""
    by_synset = synset_counts(hierarchy, counts, per_sense)
    excluded = {normalize_name(word) for word in too_general}
    return {
        c.wnid: _most_popular(hierarchy, c.wnid, by_synset, excluded) for c in hierarchy.classes
    }


def entry_level_assignment(
    hierarchy: Hierarchy,
    counts: Mapping[str, int | None] | CountProvider,
    model: EntryLevelModel | None = None,
) -> dict[str, str]:
    """Each class -> the entry-level model's first choice on its chain (the shipped model
    unless `model` is given)."""
    by_term = _by_term(hierarchy, counts)
    return (model or _default_model()).assignment(hierarchy, familiarities(hierarchy, by_term))


def entry_level_priors(
    hierarchy: Hierarchy,
    counts: Mapping[str, int | None] | CountProvider,
    model: EntryLevelModel | None = None,
) -> dict[str, dict[str, float]]:
    """Each class -> the entry-level model's probability of each candidate of its chain:
    the prior of `clustering.confidence`."""
    by_term = _by_term(hierarchy, counts)
    familiarity = familiarities(hierarchy, by_term)
    chosen = model or _default_model()
    return {c.wnid: chosen.probabilities(hierarchy, c.wnid, familiarity) for c in hierarchy.classes}


def cross_fitted_priors(
    hierarchy: Hierarchy,
    counts: Mapping[str, int | None] | CountProvider,
    labels: Mapping[str, str],
    folds: int = 5,
    seed: int = 0,
    l2_grid: Sequence[float] = L2_GRID,
) -> dict[str, dict[str, float]]:
    """`entry_level_priors` where no class's prior saw its own label: the classes whose
    label (in `labels`) lies on their chain are dealt into `folds` grouped folds
    (`grouped_folds`: a label's classes all in one), and each fold's classes get the
    prior of a model fitted, as `fit_model` fits the shipped one, on the other folds.
    Other classes keep the shipped model's prior, which never saw a label of theirs.

    Why: judging the survey against the labels the shipped model was fitted on lets the
    prior agree with the truth more often than it would with a new team's labels; the
    team simulation (benchmarks/simulate_team.py) scores its runs with these instead."""
    by_term = _by_term(hierarchy, counts)
    familiarity = familiarities(hierarchy, by_term)
    priors = entry_level_priors(hierarchy, by_term)
    usable = [
        c.wnid
        for c in hierarchy.classes
        if c.wnid in labels and labels[c.wnid] in hierarchy.chain_wnids(c.wnid)
    ]
    parts = grouped_folds(usable, labels, folds, seed)
    for i, held in enumerate(parts):
        train = {c: labels[c] for j, part in enumerate(parts) if j != i for c in part}
        model = fit_model(hierarchy, train, familiarity, l2_grid, seed=seed)
        for c in held:
            priors[c] = model.probabilities(hierarchy, c, familiarity)
    return priors


def prior_suggestions(priors: Mapping[str, Mapping[str, float]]) -> dict[str, str]:
    """class -> the candidate its prior favours (ties: the more specific, the later in
    the chain, as `EntryLevelModel.suggest` breaks them): the suggestion."""
    return {c: max(reversed(list(p)), key=p.get) for c, p in priors.items()}


def suggest_label(
    hierarchy: Hierarchy,
    class_wnid: str,
    familiarity: Mapping[str, Familiarity],
    model: EntryLevelModel | None = None,
) -> str:
    """The survey's pre-selected answer for one class: the entry-level model's choice, as
    `entry_level_assignment` makes it. `familiarity` needs the class's chain only (synset
    wnid -> `Familiarity`, from `familiarities` or `synset_familiarity`). Returns a wnid on
    the class's chain."""
    return (model or _default_model()).suggest(hierarchy, class_wnid, familiarity)


@cache
def _default_model() -> EntryLevelModel:
    """The shipped model, read once per process."""
    return load_default_model()


@dataclass(frozen=True)
class StrategyResult:
    cil: CIL
    resolution: Resolution
    warnings: tuple[str, ...] = ()

    @property
    def conflicts(self) -> int:
        return len(self.resolution.conflicts)


def strategy_cil(
    hierarchy: Hierarchy,
    strategy: str,
    *,
    k: int = 1,
    counts: Mapping[str, int | None] | CountProvider | None = None,
    conflicts: str = STRATEGY_POLICY,
    too_general: Collection[str] = TOO_GENERAL,
    model: EntryLevelModel | None = None,
) -> StrategyResult:
    """A CIL by `strategy` ("depth" with `k`; "popularity" or "entry-level" with `counts`,
    the latter with `model`, the shipped one by default), its conflicts resolved by the
    `conflicts` policy. Synsets without any count are named in the result's warnings."""
    warnings: list[str] = []
    if strategy == "depth":
        assignment = depth_assignment(hierarchy, k)
        settings: dict[str, object] = {"method": "depth", "k": k}
    elif strategy in ("popularity", "entry-level"):
        if counts is None:
            raise ValueError(f"the {strategy} strategy needs search counts")
        by_term = _by_term(hierarchy, counts)
        missing = uncounted_synsets(hierarchy, by_term)
        if missing:
            warnings.append(
                f"{len(missing)} of {len(hierarchy.synsets)} synsets have no count for any "
                f"lemma and rank as never searched: {', '.join(missing[:10])}"
                + (" ..." if len(missing) > 10 else "")
            )
        source = counts.name if isinstance(counts, CountProvider) else "mapping"
        if strategy == "popularity":
            assignment = popularity_assignment(hierarchy, by_term, too_general)
            settings = {
                "method": "popularity",
                "counts": source,
                "too_general": sorted(too_general),
            }
        else:
            chosen = model or _default_model()
            assignment = entry_level_assignment(hierarchy, by_term, chosen)
            settings = {"method": "entry-level", "counts": source, "model": chosen.provenance}
    else:
        raise ValueError(f"unknown strategy {strategy!r}; choose one of: {', '.join(STRATEGIES)}")
    return assignment_result(hierarchy, assignment, settings, conflicts, warnings)


def assignment_result(
    hierarchy: Hierarchy,
    assignment: Mapping[str, str],
    settings: Mapping[str, object],
    conflicts: str = STRATEGY_POLICY,
    warnings: Collection[str] = (),
) -> StrategyResult:
    """Any strategy's last step: the assignment (class wnid -> synset) made conflict-free by
    the `conflicts` policy, and its CIL, whose provenance holds `settings`."""
    resolution = resolve_conflicts(hierarchy, assignment, conflicts)
    provenance = {
        **settings,
        "conflicts": conflicts,
        "conflicts_resolved": len(resolution.conflicts),
        "hierarchy_version": hierarchy.version,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    return StrategyResult(
        build_cil(hierarchy, resolution.assignment, provenance, resolution.other_labels),
        resolution,
        tuple(warnings),
    )
