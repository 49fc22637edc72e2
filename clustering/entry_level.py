"""The entry-level model: which synset of a class's chain a person would name it by.

After Ordonez et al., "From Large Scale Image Categorization to Entry-Level
Categories" (ICCV 2013): a name is good when the word is natural and the
concept is not far from the specific one. Every candidate of a class's chain
(root .. the class itself) gets features (`FEATURES`) that WordNet and the
search counts give for any class list; a conditional logit (a softmax over
each class's candidates, L2-regularised, fitted by Newton's method) learns
from human labels which candidate people choose. The model is a small JSON
file: feature names, standardisation, weights and where it came from.

`fit` reports held-out agreement over *grouped* folds: classes sharing a human
label are never split between training and held-out parts, so the model cannot
learn "every dog is dog" from the other dogs. The regularisation is chosen by a
grouped cross-validation inside each training part, never on the held-out one.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from clustering.cil import normalize_name
from clustering.errors import ClusteringError
from clustering.familiarity import Familiarity, synset_familiarity
from clustering.hierarchy import Hierarchy

__all__ = [
    "DEFAULT_MODEL",
    "FEATURES",
    "L2_GRID",
    "CrossValidation",
    "EntryLevelModel",
    "HalfSplit",
    "ModelError",
    "agreement",
    "candidate_features",
    "cross_validate",
    "familiarities",
    "fit_model",
    "grouped_folds",
    "half_splits",
    "load_default_model",
]

MODEL_FORMAT = "cil-entry-level-model"
MODEL_FORMAT_VERSION = 1
DEFAULT_MODEL = "data/entry_level_model.json"  # inside the clustering package
# Regularisation strengths tried inside each training part. Below 1 the held-out hits
# fall on every split tried while the fit only sharpens, so the grid starts there.
L2_GRID = (1.0, 3.0, 10.0, 30.0)
# One inner grouping is at the mercy of where the largest label group falls (dog: 118
# classes): on one half of the labels a single grouping chose 30 where 1 scored 6 points
# higher on the other half. Summing the hits over three groupings steadies the choice.
INNER_REPEATS = 3

# Lexicographer files that ImageNet-1k's chains pass through, as one-hot features; the
# rest (noun.body, noun.person, ...) share the all-zero pattern.
LEXNAMES = (
    "noun.Tops",
    "noun.animal",
    "noun.artifact",
    "noun.food",
    "noun.plant",
    "noun.object",
    "noun.group",
    "noun.act",
    "noun.substance",
)
# Kinds of class whose naming habits differ most: people name animals by a group
# several levels up ("dog", "snake") and artifacts mostly by the class itself.
CLASS_KINDS = ("noun.animal", "noun.artifact")

FEATURES: tuple[str, ...] = (
    "familiarity",  # log10 of the sense-aware count of the candidate's best lemma
    "word_count",  # log10 of the raw count of that lemma's word, whatever the sense
    "familiarity_gap",  # familiarity minus the chain's highest
    "most_familiar",  # the chain's most familiar candidate
    "second_most_familiar",
    "distance",  # levels between the class and the candidate (longest paths)
    "distance_squared",  # distance**2 / 10: far candidates fall off faster
    "depth",  # the candidate's depth in WordNet
    "depth_squared",  # depth**2 / 10: basic-level words sit mid-taxonomy, not at either end
    "classes_merged",  # log(1 + the classes of the list under the candidate)
    "is_class",  # the class itself
    "first_sense",  # the best lemma names this synset first among its noun senses
    "multiword",  # the best lemma is several words ("great ape")
    "familiarity*classes_merged",  # a common word that also merges many classes
    "word_count*first_sense",  # the word's whole count, when this is its first sense
    "compound_head",  # the nearest candidate whose lemma ends the class's name ("beer bottle")
    # How often WordNet's sense-tagged corpus (SemCor, running text) uses the words: a
    # second opinion on familiarity, from speech-like prose rather than the web.
    "tagged",  # log(1 + tags of the synset, all lemmas)
    "tagged_sense",  # log(1 + tags of the best lemma in this sense)
    "tagged_word",  # log(1 + tags of the best lemma's word in any noun sense)
    *(f"lexname={name}" for name in LEXNAMES),
    *(
        f"{feature}*class_{kind.removeprefix('noun.')}"
        for kind in CLASS_KINDS
        for feature in ("distance", "familiarity", "classes_merged")
    ),
    "is_class*class_familiarity",  # keep a class whose own name is a common word
    "is_class*class_multiword",  # ... and leave one named by a phrase
)


class ModelError(ClusteringError, ValueError):
    """A model file or training set that cannot be used; the message says why."""


# --- features ---------------------------------------------------------------------------
def familiarities(
    hierarchy: Hierarchy, term_counts: Mapping[str, int | None]
) -> dict[str, Familiarity]:
    """synset wnid -> its sense-aware familiarity, for every synset of the hierarchy."""
    return {wnid: synset_familiarity(s, term_counts) for wnid, s in hierarchy.synsets.items()}


# Counts are compared on a log scale from this floor: a word no corpus lists (count 0) is
# taken as just below the rarest listed ones, not as infinitely rare. wordfreq's rarest
# words estimate to about 10**4 (see `clustering.popularity.WEB_CORPUS_TOKENS`).
COUNT_FLOOR = 1000


def _log_count(count: int | None) -> float:
    return math.log10(COUNT_FLOOR + (count or 0))


def candidate_features(
    hierarchy: Hierarchy, class_wnid: str, familiarity: Mapping[str, Familiarity]
) -> tuple[list[str], np.ndarray]:
    """The class's chain (root first) and one row of `FEATURES` per candidate."""
    chain = hierarchy.chain_wnids(class_wnid)
    own = hierarchy.synsets[class_wnid]
    # Plain floats, not numpy's scalars: the rows' arithmetic is the same, and at
    # ImageNet-21k's size numpy's per-scalar overhead was most of the priors' 3 s.
    fam = [_log_count(familiarity[w].count) for w in chain]
    top = max(fam)
    rank = [0] * len(chain)
    for position, i in enumerate(sorted(range(len(chain)), key=lambda i: -fam[i])):
        rank[i] = position
    class_familiarity = _log_count(familiarity[class_wnid].count)
    class_multiword = _is_multiword(familiarity[class_wnid].lemma)
    head = _compound_head(hierarchy, class_wnid, chain)
    rows = []
    for i, wnid in enumerate(chain):
        synset = hierarchy.synsets[wnid]
        best = familiarity[wnid]
        distance = own.depth - synset.depth
        merged = math.log1p(len(hierarchy.descendants.get(wnid, ())))
        is_class = float(wnid == class_wnid)
        word_count = _log_count(best.word_count)
        first_sense = float(best.sense.rank == 1)
        row = [
            fam[i],
            word_count,
            fam[i] - top,
            float(rank[i] == 0),
            float(rank[i] == 1),
            distance,
            distance**2 / 10,
            synset.depth,
            synset.depth**2 / 10,
            merged,
            is_class,
            first_sense,
            float(_is_multiword(best.lemma)),
            fam[i] * merged,
            word_count * first_sense,
            float(wnid == head),
            math.log1p(sum(sense.tagged for sense in synset.senses)),
            math.log1p(best.sense.tagged),
            math.log1p(best.sense.tagged_all),
            *_lexname_row(synset.lexname),
        ]
        for kind in CLASS_KINDS:
            same = float(own.lexname == kind)
            row += [distance * same, fam[i] * same, merged * same]
        row += [is_class * class_familiarity, is_class * class_multiword]
        rows.append(row)
    return chain, np.array(rows, dtype=float)


@cache
def _lexname_row(lexname: str) -> tuple[float, ...]:
    """The one-hot `lexname=` features of a synset of `lexname`."""
    return tuple(float(lexname == name) for name in LEXNAMES)


def _is_multiword(term: str) -> bool:
    return " " in term or "-" in term


def _compound_head(hierarchy: Hierarchy, class_wnid: str, chain: Sequence[str]) -> str | None:
    """The nearest candidate above the class with a lemma that is the head of one of the
    class's: "bottle" for "beer bottle", "boat" for "lifeboat"; None if there is none."""
    names = [normalize_name(lemma) for lemma in hierarchy.synsets[class_wnid].lemmas]
    for wnid in reversed(chain[:-1]):  # the chain ends with the class itself
        heads = [normalize_name(lemma) for lemma in hierarchy.synsets[wnid].lemmas]
        if any(_is_head(head, name) for name in names for head in heads):
            return wnid
    return None


def _is_head(head: str, name: str) -> bool:
    """`head` ends `name` as its last word ("beer bottle", "hand-cart"), or ends a closed
    compound at least three letters longer ("lifeboat"). Only the class's own ancestors
    are tried, so a chance ending ("ant" in "elephant") would have to be one of them."""
    if head == name:
        return False
    return name.endswith((" " + head, "-" + head)) or (
        name.endswith(head) and len(name) >= len(head) + 3
    )


# --- the model --------------------------------------------------------------------------
@dataclass
class EntryLevelModel:
    """A conditional logit over a class's candidates; `weights` act on standardised features."""

    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    l2: float
    provenance: dict[str, Any] = field(default_factory=dict)

    def scores(self, rows: np.ndarray) -> np.ndarray:
        return ((rows - self.mean) / self.scale) @ self.weights

    def suggest(
        self, hierarchy: Hierarchy, class_wnid: str, familiarity: Mapping[str, Familiarity]
    ) -> str:
        """The candidate of the class's chain people would most likely name it by; ties go
        to the more specific candidate."""
        chain, rows = candidate_features(hierarchy, class_wnid, familiarity)
        scores = self.scores(rows)
        best = max(range(len(chain)), key=lambda i: (scores[i], i))  # chain is root first
        return chain[best]

    def probabilities(
        self, hierarchy: Hierarchy, class_wnid: str, familiarity: Mapping[str, Familiarity]
    ) -> dict[str, float]:
        """The model's probability of each candidate of the class's chain (its softmax)."""
        chain, rows = candidate_features(hierarchy, class_wnid, familiarity)
        scores = self.scores(rows)
        weights = np.exp(scores - scores.max())
        return dict(zip(chain, (weights / weights.sum()).tolist(), strict=True))

    def assignment(
        self,
        hierarchy: Hierarchy,
        familiarity: Mapping[str, Familiarity],
        classes: Sequence[str] | None = None,
    ) -> dict[str, str]:
        wanted = classes if classes is not None else [c.wnid for c in hierarchy.classes]
        return {c: self.suggest(hierarchy, c, familiarity) for c in wanted}

    def weight_table(self) -> list[tuple[str, float]]:
        """(feature, weight per standard deviation), largest effect first."""
        return sorted(
            zip(self.features, self.weights.tolist(), strict=True), key=lambda item: -abs(item[1])
        )

    # --- file -----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "format": MODEL_FORMAT,
            "format_version": MODEL_FORMAT_VERSION,
            "features": list(self.features),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "weights": self.weights.tolist(),
            "l2": self.l2,
            "provenance": self.provenance,
        }

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=1, sort_keys=True) + "\n")

    @classmethod
    def from_dict(cls, data: Any, source: str = "the model") -> EntryLevelModel:
        if not isinstance(data, dict) or data.get("format") != MODEL_FORMAT:
            raise ModelError(
                f"{source} is not an entry-level model file (written by "
                "`python -m clustering suggest fit`)"
            )
        if data.get("format_version") != MODEL_FORMAT_VERSION:
            raise ModelError(
                f"{source}: unsupported model format version {data.get('format_version')!r}"
            )
        if list(data.get("features", [])) != list(FEATURES):
            raise ModelError(
                f"{source} was fitted on other features than this version "
                "computes; fit it again with `python -m clustering suggest fit`"
            )
        try:
            arrays = [np.array(data[key], dtype=float) for key in ("mean", "scale", "weights")]
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"{source}: malformed numbers ({exc})") from None
        if (
            any(a.shape != (len(FEATURES),) for a in arrays)
            or not all(np.isfinite(a).all() for a in arrays)
            or (arrays[1] <= 0).any()
        ):
            raise ModelError(
                f"{source}: mean, scale and weights must be {len(FEATURES)} "
                "finite numbers each, scales positive"
            )
        return cls(
            tuple(FEATURES), *arrays, float(data.get("l2", 0.0)), dict(data.get("provenance", {}))
        )

    @classmethod
    def load(cls, path: str | Path) -> EntryLevelModel:
        try:
            data = json.loads(Path(path).read_text())
        except FileNotFoundError:
            raise ModelError(f"{path} does not exist") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelError(f"{path} is not JSON: {exc}") from None
        return cls.from_dict(data, str(path))


def load_default_model() -> EntryLevelModel:
    """The model shipped with the project (fitted on the original project's labels)."""
    text = resources.files("clustering").joinpath(DEFAULT_MODEL).read_text()
    return EntryLevelModel.from_dict(json.loads(text), f"clustering/{DEFAULT_MODEL}")


# --- fitting ----------------------------------------------------------------------------
@dataclass(frozen=True)
class _Examples:
    """Each class's candidate rows padded to one length, and the human choice's position."""

    rows: np.ndarray  # (classes, longest chain, features)
    mask: np.ndarray  # (classes, longest chain): a real candidate
    target: np.ndarray  # (classes,)

    def subset(self, index: np.ndarray) -> _Examples:
        return _Examples(self.rows[index], self.mask[index], self.target[index])


def _examples(
    hierarchy: Hierarchy,
    labels: Mapping[str, str],
    familiarity: Mapping[str, Familiarity],
    classes: Sequence[str],
) -> _Examples:
    built = [candidate_features(hierarchy, c, familiarity) for c in classes]
    longest = max(len(chain) for chain, _ in built)
    rows = np.zeros((len(built), longest, len(FEATURES)))
    mask = np.zeros((len(built), longest), dtype=bool)
    target = np.zeros(len(built), dtype=int)
    for n, (c, (chain, x)) in enumerate(zip(classes, built, strict=True)):
        rows[n, : len(chain)] = x
        mask[n, : len(chain)] = True
        target[n] = chain.index(labels[c])
    return _Examples(rows, mask, target)


def _newton(z_rows: np.ndarray, mask: np.ndarray, target: np.ndarray, l2: float) -> np.ndarray:
    """The weights minimising the conditional logit's negative log-likelihood plus
    l2/2 |w|^2: Newton's method with a halving line search (the loss is convex)."""
    n, _, d = z_rows.shape
    chosen = z_rows[np.arange(n), target]

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        scores = np.where(mask, z_rows @ w, -np.inf)
        top = scores.max(axis=1, keepdims=True)
        log_norm = top[:, 0] + np.log(np.exp(scores - top).sum(axis=1))
        return float((log_norm - chosen @ w).sum() + 0.5 * l2 * w @ w), scores - log_norm[:, None]

    w = np.zeros(d)
    value, log_p = loss(w)
    for _ in range(100):
        p = np.exp(log_p)
        mean_row = np.einsum("nk,nkd->nd", p, z_rows)
        gradient = (mean_row - chosen).sum(axis=0) + l2 * w
        hessian = (
            np.einsum("nk,nkd,nke->de", p, z_rows, z_rows) - mean_row.T @ mean_row + l2 * np.eye(d)
        )
        step = np.linalg.solve(hessian, gradient)
        size = 1.0
        while True:
            new_value, new_log_p = loss(w - size * step)
            if new_value <= value or size < 1e-8:
                break
            size /= 2
        w = w - size * step
        improved = value - new_value
        value, log_p = new_value, new_log_p
        if improved < 1e-9 * max(1.0, abs(value)):
            break
    return w


def _fit(examples: _Examples, l2: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    real = examples.rows[examples.mask]
    mean = real.mean(axis=0)
    scale = real.std(axis=0)
    scale[scale == 0] = 1.0  # a constant feature carries no weight
    standard = (examples.rows - mean) / scale
    return mean, scale, _newton(standard, examples.mask, examples.target, l2)


def _hits(examples: _Examples, mean: np.ndarray, scale: np.ndarray, w: np.ndarray) -> int:
    scores = np.where(examples.mask, ((examples.rows - mean) / scale) @ w, -np.inf)
    # ties to the later (more specific) candidate, as `EntryLevelModel.suggest`
    flipped = scores[:, ::-1]
    best = scores.shape[1] - 1 - flipped.argmax(axis=1)
    return int((best == examples.target).sum())


def grouped_folds(
    classes: Sequence[str], labels: Mapping[str, str], k: int, seed: int = 0
) -> list[list[str]]:
    """`classes` split into k parts of about equal size, each human label's classes in
    one part. Groups are dealt largest first into the smallest part so far; the seed
    shuffles the order of equal-sized groups."""
    groups: dict[str, list[str]] = {}
    for c in classes:
        groups.setdefault(labels[c], []).append(c)
    if len(groups) < k:
        raise ModelError(f"{len(groups)} distinct labels cannot make {k} grouped folds")
    keys = sorted(groups)
    np.random.default_rng(seed).shuffle(keys)
    keys.sort(key=lambda g: -len(groups[g]))  # stable: shuffled within equal sizes
    folds: list[list[str]] = [[] for _ in range(k)]
    for key in keys:
        min(folds, key=len).extend(groups[key])
    return folds


def _choose_l2(
    labels: Mapping[str, str],
    classes: Sequence[str],
    examples: _Examples,
    l2_grid: Sequence[float],
    inner_folds: int,
    seed: int,
) -> float:
    """The strength with the most grouped-CV hits among `classes` (ties to the larger),
    summed over `INNER_REPEATS` groupings (seeds `seed`, `seed + 1`, ...)."""
    if len(l2_grid) == 1:
        return l2_grid[0]
    position = {c: i for i, c in enumerate(classes)}
    hits = dict.fromkeys(l2_grid, 0)
    for repeat in range(INNER_REPEATS):
        folds = grouped_folds(classes, labels, inner_folds, seed + repeat)
        parts = [np.array([position[c] for c in fold]) for fold in folds]
        for i, held in enumerate(parts):
            train = examples.subset(np.concatenate([p for j, p in enumerate(parts) if j != i]))
            for l2 in l2_grid:
                hits[l2] += _hits(examples.subset(held), *_fit(train, l2))
    return max(sorted(l2_grid, reverse=True), key=lambda l2: hits[l2])


@dataclass(frozen=True)
class CrossValidation:
    """Held-out agreement over grouped folds."""

    folds: int
    hits: int
    total: int
    l2_per_fold: tuple[float, ...]
    fold_sizes: tuple[int, ...]

    @property
    def agreement(self) -> float:
        return self.hits / self.total if self.total else 0.0


def _labelled_classes(hierarchy: Hierarchy, labels: Mapping[str, str]) -> list[str]:
    usable = [
        c.wnid
        for c in hierarchy.classes
        if c.wnid in labels and labels[c.wnid] in hierarchy.chain_wnids(c.wnid)
    ]
    if not usable:
        raise ModelError("no class of the hierarchy has a human label on its own chain")
    return usable


def cross_validate(
    hierarchy: Hierarchy,
    labels: Mapping[str, str],
    familiarity: Mapping[str, Familiarity],
    folds: int = 5,
    l2_grid: Sequence[float] = L2_GRID,
    inner_folds: int = 4,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> CrossValidation:
    """Grouped k-fold held-out agreement; the L2 strength is chosen inside each training part."""
    classes = _labelled_classes(hierarchy, labels)
    examples = _examples(hierarchy, labels, familiarity, classes)
    parts = grouped_folds(classes, labels, folds, seed)
    hits, chosen = 0, []
    for i, held in enumerate(parts):
        train = [c for j, part in enumerate(parts) if j != i for c in part]
        part_hits, l2 = _held_out_hits(
            examples, classes, labels, train, held, l2_grid, inner_folds, seed + 1
        )
        hits += part_hits
        chosen.append(l2)
        if progress:
            progress(i + 1, folds)
    return CrossValidation(folds, hits, len(classes), tuple(chosen), tuple(len(p) for p in parts))


def _held_out_hits(
    examples: _Examples,
    classes: Sequence[str],
    labels: Mapping[str, str],
    train: Sequence[str],
    held: Sequence[str],
    l2_grid: Sequence[float],
    inner_folds: int,
    seed: int,
) -> tuple[int, float]:
    """Hits on `held` of a model fitted on `train` (`examples` has one row per class of
    `classes`), and the L2 strength chosen inside `train`."""
    position = {c: i for i, c in enumerate(classes)}
    train_examples = examples.subset(np.array([position[c] for c in train]))
    l2 = _choose_l2(labels, train, train_examples, l2_grid, inner_folds, seed)
    fitted = _fit(train_examples, l2)
    return _hits(examples.subset(np.array([position[c] for c in held])), *fitted), l2


def fit_model(
    hierarchy: Hierarchy,
    labels: Mapping[str, str],
    familiarity: Mapping[str, Familiarity],
    l2_grid: Sequence[float] = L2_GRID,
    inner_folds: int = 4,
    seed: int = 0,
    provenance: Mapping[str, Any] | None = None,
) -> EntryLevelModel:
    """A model fitted on every class whose label lies on its chain, the L2 strength
    chosen by grouped cross-validation on those classes."""
    classes = _labelled_classes(hierarchy, labels)
    examples = _examples(hierarchy, labels, familiarity, classes)
    l2 = _choose_l2(labels, classes, examples, l2_grid, inner_folds, seed)
    mean, scale, weights = _fit(examples, l2)
    return EntryLevelModel(
        FEATURES, mean, scale, weights, l2, {"classes": len(classes), **(provenance or {})}
    )


@dataclass(frozen=True)
class HalfSplit:
    """A model fitted on one half of the labelled classes (whole label groups), scored on
    the other half by its first choices, as `EntryLevelModel.suggest` makes them."""

    seed: int
    trained_on: int
    hits: int
    total: int

    @property
    def agreement(self) -> float:
        return self.hits / self.total if self.total else 0.0


def half_splits(
    hierarchy: Hierarchy,
    labels: Mapping[str, str],
    familiarity: Mapping[str, Familiarity],
    splits: int = 3,
    seed: int = 0,
    l2_grid: Sequence[float] = L2_GRID,
    inner_folds: int = 4,
    progress: Callable[[int, int], None] | None = None,
) -> list[HalfSplit]:
    """For each of `splits` grouped two-way splits (seeds `seed`, `seed + 1`, ...), a model
    fitted on each half and scored on the other: 2 * `splits` results."""
    classes = _labelled_classes(hierarchy, labels)
    examples = _examples(hierarchy, labels, familiarity, classes)
    results = []
    for split_seed in range(seed, seed + splits):
        halves = grouped_folds(classes, labels, 2, split_seed)
        for train, test in (halves, halves[::-1]):
            hits, _l2 = _held_out_hits(
                examples, classes, labels, train, test, l2_grid, inner_folds, split_seed
            )
            results.append(HalfSplit(split_seed, len(train), hits, len(test)))
            if progress:
                progress(len(results), 2 * splits)
    return results


def agreement(
    assignment: Mapping[str, str], labels: Mapping[str, str], classes: Sequence[str]
) -> tuple[int, int]:
    """(classes of `classes` whose assigned synset is the human label's, len(classes))."""
    return sum(assignment.get(c) == labels[c] for c in classes), len(classes)
