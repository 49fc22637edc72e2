"""Labels from what a trained 1,000-way model confuses, kept inside WordNet.

NBDT (Wan et al., ICLR 2021) induces a hierarchy by clustering the classifier's
weight rows and only names the groups by WordNet afterwards, so a group can mix
unrelated things that look alike to the network. Here every merge goes through
WordNet: merging into a synset L takes *all* the current labels at or below L
(anything less would leave a label below another), so each label is a synset on
its members' chains and the result is a partition by construction.

The data: a similarity between classes, from

- the validation confusion matrix (`confusion_similarity`): `C[i, j]` images of
  class i predicted as j; `P = C / row sums`, and the similarity of i and j is
  `(P[i, j] + P[j, i]) / 2`, the share of the two classes' images taken for the
  other (their mutual confusion rate);
- or the head's weight rows (`weight_similarity`): the same, with `P[i]` the
  softmax of the cosine similarities of row i to every row at a temperature: how
  the head would read an input pointing along class i's own weights.

The merge (`merge_by_confusion`) is greedy. The score of merging into L is the
share of the merged label's images that the merge turns from mistakes into hits,
per label it removes: `sum of P[i, j] over absorbed i, j in different labels /
(absorbed classes * (labels absorbed - 1))`. For two classes that is their
mutual confusion rate; for many equally confused classes it is the same rate,
so a synset high in the tree scores well only if its parts are confused with
each other, not because it holds many classes. A husky taken for a school bus
scores low at "object": that merge would also swallow every unconfused class
below it. Merging stops at `max_labels` labels or when no merge scores at least
`threshold`. Ties go to the merge absorbing fewer classes, then the deeper
synset, then the lower wnid.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from clustering.errors import ClusteringError
from clustering.hierarchy import ClassListError, Hierarchy

__all__ = [
    "CLASSES_FILE",
    "CONFUSION_FILE",
    "DEFAULT_TEMPERATURE",
    "DEFAULT_THRESHOLD",
    "WEIGHTS_FILE",
    "Merge",
    "MergeResult",
    "ModelFileError",
    "class_order",
    "confusion_similarity",
    "describe_merges",
    "merge_by_confusion",
    "read_class_matrix",
    "weight_similarity",
]

# The files `python -m trainer.features RUN_DIR` writes into a run folder.
CONFUSION_FILE = "confusion.npy"  # classes x classes counts: rows true class, columns predicted
WEIGHTS_FILE = "head_weights.npy"  # classes x features: the 1,000-way head's weight rows
CLASSES_FILE = "classes.txt"  # the wnid of each row, in order

# Merges below a 2 % mutual confusion rate are not made: on a 50-image validation class
# that is one image each way, at which rate every pair of ImageNet classes near each other
# would merge.
DEFAULT_THRESHOLD = 0.02
# A cosine of 0.5 above the rest weighs e^5 (about 150) times more: a head's nearest rows
# stand out from the 1,000 without the row's own cosine of 1 taking all the mass.
DEFAULT_TEMPERATURE = 0.1


class ModelFileError(ClusteringError, ValueError):
    """A run folder or NumPy file that cannot be read as asked; the message says why."""


@dataclass(frozen=True)
class Merge:
    label: str  # the synset merged into
    absorbed: tuple[str, ...]  # the labels it took in (sorted)
    classes: int  # how many classes it now holds
    score: float


@dataclass(frozen=True)
class MergeResult:
    assignment: dict[str, str]  # class wnid -> label wnid
    merges: tuple[Merge, ...]  # in the order they were made
    stopped: str  # why merging stopped, in words


def read_class_matrix(
    source: str | Path, hierarchy: Hierarchy, weights: bool = False
) -> np.ndarray:
    """The confusion matrix (or, with `weights`, the head's weight rows) of a run folder or
    a `.npy` file, its rows in the hierarchy's class order. Rows are named by `classes.txt`
    beside the file; without it they must be the hierarchy's classes in order."""
    path = Path(source)
    if path.is_dir():
        path = path / (WEIGHTS_FILE if weights else CONFUSION_FILE)
    if not path.is_file():
        raise ModelFileError(
            f"{path} does not exist; write it with "
            "`python -m trainer.features RUN_DIR` (a 1,000-way run)"
        )
    try:
        matrix = np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise ModelFileError(f"{path} is not a NumPy array file: {exc}") from None
    square = not weights
    if matrix.ndim != 2 or (square and matrix.shape[0] != matrix.shape[1]):
        raise ModelFileError(
            f"{path} holds an array of shape {matrix.shape}; expected "
            + ("classes x classes" if square else "classes x features")
        )
    if not np.isfinite(matrix).all() or (square and (matrix < 0).any()):
        raise ModelFileError(
            f"{path} holds " + ("negative or " if square else "") + "non-finite values"
        )
    order = class_order(path, matrix.shape[0], hierarchy)
    return matrix[np.ix_(order, order)] if square else matrix[order]


def class_order(path: Path, count: int, hierarchy: Hierarchy, unit: str = "row") -> np.ndarray:
    """Where each of the hierarchy's classes, in its order, sits among the `count` rows
    (or columns: `unit`) of the array file `path`. They are named by `classes.txt` beside
    it; without it they must be the hierarchy's classes in order."""
    names_file = path.parent / CLASSES_FILE
    wanted = [c.wnid for c in hierarchy.classes]
    if names_file.is_file():
        names = names_file.read_text().split()
        if len(names) != count:
            raise ModelFileError(
                f"{names_file} names {len(names)} classes, {path} has {count} {unit}s"
            )
    elif count == len(wanted):
        names = wanted
    else:
        raise ModelFileError(
            f"{path} has {count} {unit}s, the hierarchy "
            f"{len(wanted)} classes, and there is no {CLASSES_FILE} beside "
            f"it to say which {unit} is which"
        )
    position = {wnid: i for i, wnid in enumerate(names)}
    missing = [w for w in wanted if w not in position]
    if missing:
        raise ClassListError(
            f"{path} has no {unit} for {len(missing)} of the hierarchy's "
            f"classes: {', '.join(missing[:10])}" + (" ..." if len(missing) > 10 else "")
        )
    return np.array([position[w] for w in wanted])


def confusion_similarity(counts: np.ndarray) -> np.ndarray:
    """Mutual confusion rates from a confusion matrix of counts (rows: true classes). A
    class without validation images confuses nothing."""
    totals = counts.sum(axis=1, keepdims=True).astype(np.float64)
    rates = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
    return _symmetric(rates)


def weight_similarity(weights: np.ndarray, temperature: float = DEFAULT_TEMPERATURE) -> np.ndarray:
    """Mutual confusion rates read from a head's weight rows (see the module's docstring)."""
    if temperature <= 0:
        raise ValueError(f"the temperature must be above 0, got {temperature}")
    norms = np.linalg.norm(weights, axis=1, keepdims=True)
    unit = np.divide(weights, norms, out=np.zeros(weights.shape), where=norms > 0)
    logits = unit @ unit.T / temperature
    logits -= logits.max(axis=1, keepdims=True)
    rates = np.exp(logits)
    rates /= rates.sum(axis=1, keepdims=True)
    return _symmetric(rates)


def _symmetric(rates: np.ndarray) -> np.ndarray:
    similarity = (rates + rates.T) / 2
    np.fill_diagonal(similarity, 0.0)
    return similarity


def merge_by_confusion(
    hierarchy: Hierarchy,
    similarity: np.ndarray,
    max_labels: int | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    progress: Callable[[int], None] | None = None,
) -> MergeResult:
    """Merge the hierarchy's classes greedily by `similarity` (classes x classes in the
    hierarchy's class order, symmetric, zero diagonal), through WordNet synsets (see the
    module's docstring). `progress` is called with the number of labels after each merge."""
    if not 0 < threshold <= 1:
        raise ValueError(f"the threshold must be above 0 and at most 1, got {threshold}")
    if max_labels is not None and max_labels < 1:
        raise ValueError(f"max_labels must be at least 1, got {max_labels}")
    n = len(hierarchy.classes)
    if similarity.shape != (n, n):
        raise ValueError(f"the similarity is {similarity.shape}, the hierarchy has {n} classes")
    state = _MergeState(hierarchy, similarity)
    merges: list[Merge] = []
    while True:
        if max_labels is not None and state.num_labels <= max_labels:
            stopped = f"reached {state.num_labels} labels (at most {max_labels} asked)"
            break
        best = state.best()
        # A hair below: a score of 1/50 summed from rates comes out as 0.019999...
        if best is None or best[0] < threshold * (1 - 1e-9):
            stopped = (
                f"no merge left scores at least {threshold:g} (best "
                f"{0 if best is None else best[0]:.4f})"
            )
            break
        merges.append(state.merge(best[1], best[0]))
        if progress:
            progress(state.num_labels)
    return MergeResult(state.assignment(), tuple(merges), stopped)


class _MergeState:
    """The current labels and each candidate synset's score, rescored only where a merge
    changed the classes below it."""

    def __init__(self, hierarchy: Hierarchy, similarity: np.ndarray) -> None:
        self.hierarchy = hierarchy
        self.similarity = similarity
        self.wnids = [c.wnid for c in hierarchy.classes]
        self.label = list(self.wnids)  # class position -> its label
        self.within = dict.fromkeys(self.wnids, 0.0)  # label -> similarity mass inside it
        # Synsets over at least two classes: the only places a merge can go.
        self.below = {
            wnid: np.array([hierarchy.class_index[c] for c in members])
            for wnid, members in hierarchy.descendants.items()
            if len(members) > 1
        }
        self.scores: dict[str, float] = {}
        self._rescore(self.below)

    @property
    def num_labels(self) -> int:
        return len(set(self.label))

    def assignment(self) -> dict[str, str]:
        return dict(zip(self.wnids, self.label, strict=True))

    def _absorbed(self, synset: str) -> np.ndarray | None:
        """Positions of the classes a merge into `synset` takes: those under it whose label
        is it or below it. None where a label above it already holds it."""
        ancestors = self.hierarchy.ancestors
        taken = []
        for position in self.below[synset]:
            label = self.label[position]
            if label == synset or synset in ancestors(label):
                taken.append(position)
            elif label in ancestors(synset):
                return None
        return np.array(taken)

    def _score(self, synset: str) -> float | None:
        taken = self._absorbed(synset)
        if taken is None or len(taken) < 2:
            return None
        labels = {self.label[p] for p in taken}
        if len(labels) < 2:
            return None
        mass = self.similarity[np.ix_(taken, taken)].sum()
        across = mass - sum(self.within[label] for label in labels)
        return float(across / (len(taken) * (len(labels) - 1)))

    def _rescore(self, synsets) -> None:
        for synset in synsets:
            score = self._score(synset)
            if score is None:
                self.scores.pop(synset, None)
            else:
                self.scores[synset] = score

    def best(self) -> tuple[float, str] | None:
        if not self.scores:
            return None
        depth = self.hierarchy.synsets
        synset = min(
            self.scores, key=lambda s: (-self.scores[s], len(self.below[s]), -depth[s].depth, s)
        )
        return self.scores[synset], synset

    def merge(self, synset: str, score: float) -> Merge:
        taken = self._absorbed(synset)
        absorbed = sorted({self.label[p] for p in taken})
        for position in taken:
            self.label[position] = synset
        for label in absorbed:
            self.within.pop(label, None)
        self.within[synset] = float(self.similarity[np.ix_(taken, taken)].sum())
        touched = np.zeros(len(self.wnids), dtype=bool)
        touched[taken] = True
        self._rescore([s for s, members in self.below.items() if touched[members].any()])
        return Merge(synset, tuple(absorbed), len(taken), score)


def describe_merges(hierarchy: Hierarchy, merges: Sequence[Merge], shown: int = 10) -> list[str]:
    """The first merges, one line each, for a person to check."""
    return [
        f"{m.score:.3f}  {hierarchy.label(m.label)} ({m.label}): {m.classes} classes from "
        + ", ".join(hierarchy.label(a) for a in m.absorbed[:6])
        + (" ..." if len(m.absorbed) > 6 else "")
        for m in merges[:shown]
    ]
