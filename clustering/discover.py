"""Groups of classes the model sees that WordNet or a label set does not (seed 003).

The input is each class's mean penultimate feature from a trained network
(`python -m trainer.features RUN_DIR` writes `features.npz` and `classes.txt`).
The means are centred and scaled to unit length, so that distance is cosine
distance, and clustered by HDBSCAN (scikit-learn's): a density clustering that
needs no number of clusters and leaves a class that belongs nowhere as noise.
HDBSCAN keeps every point that ever joined a cluster, and pairs even the two
loneliest points, so two filters follow: a class that joined late (strength
below `MIN_STRENGTH`) is noise, and so is a cluster wider than `max_width` times
the median distance between two classes. UMAP before it (seed 003's recipe,
for millions of image features) is not added: one point per class is 1,000
points, which HDBSCAN takes directly; whether UMAP would find more on real
features is untested.

Two lists come out, for an admin to read before settling:

- **close to the model, far in WordNet**: clusters whose deepest common WordNet
  synset lies at least `far` levels above one of its classes (a husky and a
  malamute meet at "dog", one level up; a tiger cat and a tiger meet at "feline");
- **one label, split by the model**: labels of a CIL whose classes fall into two
  or more clusters (classes the clustering leaves as noise are not counted: the
  model shows no group for them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from clustering.confusion import CLASSES_FILE, ModelFileError
from clustering.hierarchy import Hierarchy

__all__ = [
    "DEFAULT_FAR",
    "DEFAULT_MAX_WIDTH",
    "DEFAULT_MIN_CLUSTER_SIZE",
    "FEATURES_FILE",
    "Cluster",
    "Discovery",
    "cluster_features",
    "discover",
    "format_discovery",
    "read_features",
]

FEATURES_FILE = "features.npz"  # `mean` (classes x features) and `count` (images per class)
# Two classes are already a finding: a pair the model cannot tell apart.
DEFAULT_MIN_CLUSTER_SIZE = 2
# A class in a cluster joined it within twice the distance of the cluster's tightest pair
# (HDBSCAN's membership strength, 1/distance over its largest value in the cluster).
MIN_STRENGTH = 0.5
# A cluster's classes all lie within half the median distance between two classes: for
# unit vectors about orthogonal on average (a median near sqrt 2), a cosine above 0.75.
DEFAULT_MAX_WIDTH = 0.5
# Four levels: dog breeds meet at "dog" one to three levels up; a cluster needing four or more
# spans groups that WordNet keeps apart (different families, or animal and artifact).
DEFAULT_FAR = 4


@dataclass(frozen=True)
class Cluster:
    classes: tuple[str, ...]  # class wnids, in class order
    meet: str  # the deepest synset on every member's chain
    climb: int  # the most levels a member climbs to reach it (depth difference)


@dataclass(frozen=True)
class Discovery:
    clusters: tuple[Cluster, ...]
    noise: tuple[str, ...]  # classes in no cluster
    far: tuple[Cluster, ...]  # clusters with climb >= the far setting, farthest first
    split: dict[str, tuple[tuple[str, ...], ...]]  # label -> its classes by cluster


def read_features(source: str | Path, hierarchy: Hierarchy) -> tuple[list[str], np.ndarray]:
    """(class wnids, their mean features) for the hierarchy's classes that had validation
    images, from `features.npz` or a run folder holding it; rows named by classes.txt."""
    path = Path(source)
    if path.is_dir():
        path = path / FEATURES_FILE
    if not path.is_file():
        raise ModelFileError(
            f"{path} does not exist; write it with `python -m trainer.features RUN_DIR`"
        )
    try:
        with np.load(path, allow_pickle=False) as archive:
            means, counts = archive["mean"], archive["count"]
    except (ValueError, KeyError) as exc:
        raise ModelFileError(f"{path} is not a features file (mean, count): {exc}") from None
    names_file = path.parent / CLASSES_FILE
    if not names_file.is_file():
        raise ModelFileError(f"{names_file} does not exist: it names the rows of {path}")
    rows = names_file.read_text().split()
    if len(rows) != len(means) or len(rows) != len(counts):
        raise ModelFileError(
            f"{names_file} names {len(rows)} classes, {path} has {len(means)} rows"
        )
    position = {wnid: i for i, wnid in enumerate(rows)}
    kept = [
        c.wnid for c in hierarchy.classes if c.wnid in position and counts[position[c.wnid]] > 0
    ]
    return kept, means[[position[w] for w in kept]].astype(np.float64)


def cluster_features(
    features: np.ndarray,
    min_cluster_size: int = DEFAULT_MIN_CLUSTER_SIZE,
    max_width: float = DEFAULT_MAX_WIDTH,
) -> np.ndarray:
    """HDBSCAN's cluster of each row (-1: noise), on the rows centred and of unit length.
    HDBSCAN keeps in a cluster every point that ever joined it, however late; a row whose
    strength of membership (the cluster's tightest distance over its joining distance) is
    below `MIN_STRENGTH` is taken as noise, and so is a cluster wider than `max_width`
    times the median distance between two rows."""
    from sklearn.cluster import HDBSCAN  # the `discover` extra; only this command needs it

    centred = features - features.mean(axis=0)
    norms = np.linalg.norm(centred, axis=1, keepdims=True)
    unit = np.divide(centred, norms, out=np.zeros(centred.shape), where=norms > 0)
    # min_samples=1: a point's density is its nearest neighbour's distance, so two classes
    # close to each other form a cluster however far the rest lie. Leaf selection keeps the
    # tightest groups instead of the most persistent ones, which on a few hundred points
    # swallow the classes that belong nowhere into the nearest big cluster.
    found = HDBSCAN(
        min_cluster_size=min_cluster_size, min_samples=1, cluster_selection_method="leaf", copy=True
    ).fit(unit)
    labels = found.labels_.copy()
    labels[found.probabilities_ < MIN_STRENGTH] = -1
    return _drop_loose(unit, labels, min_cluster_size, max_width)


def _drop_loose(
    points: np.ndarray, labels: np.ndarray, min_cluster_size: int, max_width: float
) -> np.ndarray:
    """Clusters that the strength filter left smaller than asked become noise, and so do
    clusters wider than `max_width` times the median distance between two classes: HDBSCAN
    pairs the two loneliest classes too when nothing else is near them."""
    squares = (points * points).sum(axis=1)
    distances = np.sqrt(
        np.maximum(squares[:, None] + squares[None, :] - 2 * points @ points.T, 0.0)
    )
    typical = np.median(distances[np.triu_indices(len(points), k=1)])
    for cluster in np.unique(labels[labels >= 0]):
        members = np.flatnonzero(labels == cluster)
        if (
            len(members) < min_cluster_size
            or distances[np.ix_(members, members)].max() > max_width * typical
        ):
            labels[members] = -1
    return labels


def discover(
    hierarchy: Hierarchy,
    wnids: list[str],
    features: np.ndarray,
    labels: Mapping[str, str] | None = None,
    min_cluster_size: int = DEFAULT_MIN_CLUSTER_SIZE,
    far: int = DEFAULT_FAR,
    max_width: float = DEFAULT_MAX_WIDTH,
) -> Discovery:
    """Cluster the classes' features and set the clusters against WordNet and against
    `labels` (class wnid -> label, any hashable name)."""
    if len(wnids) < max(min_cluster_size, 2):
        raise ValueError(f"{len(wnids)} classes with features: too few to cluster")
    found = cluster_features(features, min_cluster_size, max_width)
    members: dict[int, list[str]] = {}
    for wnid, cluster in zip(wnids, found, strict=True):
        members.setdefault(int(cluster), []).append(wnid)
    clusters = tuple(_cluster(hierarchy, members[k]) for k in sorted(members) if k >= 0)
    cluster_of = {w: int(k) for w, k in zip(wnids, found, strict=True) if k >= 0}
    split = {}
    by_label: dict[str, dict[int, list[str]]] = {}
    for wnid, label in (labels or {}).items():
        if wnid in cluster_of:
            by_label.setdefault(label, {}).setdefault(cluster_of[wnid], []).append(wnid)
    for label, parts in sorted(by_label.items()):
        if len(parts) > 1:
            split[label] = tuple(sorted(tuple(part) for part in parts.values()))
    farthest = sorted((c for c in clusters if c.climb >= far), key=lambda c: (-c.climb, c.classes))
    return Discovery(clusters, tuple(members.get(-1, ())), tuple(farthest), split)


def _cluster(hierarchy: Hierarchy, classes: list[str]) -> Cluster:
    meet = hierarchy.meet(classes)
    depth = hierarchy.synsets[meet].depth
    return Cluster(tuple(classes), meet, max(hierarchy.synsets[c].depth - depth for c in classes))


def format_discovery(
    discovery: Discovery,
    hierarchy: Hierarchy,
    far: int,
    label_names: Mapping[str, str] | None = None,
) -> str:
    """The two lists as text for a person."""

    def names(classes) -> str:
        return ", ".join(hierarchy.label(c) for c in classes)

    lines = [
        (
            f"{len(discovery.clusters)} clusters of "
            f"{sum(len(c.classes) for c in discovery.clusters)} classes; "
            f"{len(discovery.noise)} classes in none"
        ),
        "",
        f"Close to the model, far in WordNet (they meet {far} or more levels up):",
    ]
    lines += [
        f"  - {names(c.classes)}: meet at {hierarchy.label(c.meet)} ({c.meet}), {c.climb} levels up"
        for c in discovery.far
    ] or ["  (none)"]
    lines += ["", "One label, split by the model:"]
    lines += [
        f"  - {(label_names or {}).get(label, label)}: " + " | ".join(names(part) for part in parts)
        for label, parts in discovery.split.items()
    ] or ["  (none)"]
    return "\n".join(lines) + "\n"
