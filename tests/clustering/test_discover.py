"""Discovery on synthetic features with planted clusters, on the toy hierarchy."""

from __future__ import annotations

import numpy as np
import pytest

from clustering.cli import main
from clustering.discover import discover, read_features

from .toy_hierarchy import (
    BASIC_LABELS,
    CAR,
    CLASSES,
    DOG,
    ENTITY,
    GOLDFISH,
    HUSKY,
    MALAMUTE,
    PUG,
    SCHOOL_BUS,
    TENCH,
    TROLLEYBUS,
    toy_hierarchy,
)

pytest.importorskip("sklearn")

# Planted: the fish together, husky with malamute, and the pug with the school bus
# (a pair WordNet keeps apart: they meet only at "entity", 3 levels up). The trolleybus
# and the car lie alone, far from everything.
PLANTED = {
    TENCH: 0,
    GOLDFISH: 0,
    HUSKY: 1,
    MALAMUTE: 1,
    PUG: 2,
    SCHOOL_BUS: 2,
    TROLLEYBUS: 3,
    CAR: 4,
}


def planted_features(dimensions: int = 32, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(5, dimensions)) * 10
    return np.stack([centres[PLANTED[w]] + 0.1 * rng.normal(size=dimensions) for w in CLASSES])


def test_planted_clusters_are_found_and_set_against_wordnet_and_the_labels():
    found = discover(toy_hierarchy(), list(CLASSES), planted_features(), BASIC_LABELS, far=3)
    assert sorted(c.classes for c in found.clusters) == [
        (TENCH, GOLDFISH),
        (HUSKY, MALAMUTE),
        (PUG, SCHOOL_BUS),
    ]
    assert sorted(found.noise) == sorted([TROLLEYBUS, CAR])
    assert [(c.classes, c.meet, c.climb) for c in found.far] == [((PUG, SCHOOL_BUS), ENTITY, 3)]
    # "dog" holds husky and malamute in one cluster and the pug in another; "bus" holds
    # the school bus in a cluster and the trolleybus in none, which is no split.
    assert found.split == {DOG: ((HUSKY, MALAMUTE), (PUG,))}


def test_discover_prints_both_lists(tmp_path, toy_hierarchy_file, capsys):
    counts = np.full(len(CLASSES), 50)
    np.savez(tmp_path / "features.npz", mean=planted_features(), count=counts)
    (tmp_path / "classes.txt").write_text("\n".join(CLASSES) + "\n")
    wnids, _ = read_features(tmp_path, toy_hierarchy())
    assert wnids == list(CLASSES)
    labels = tmp_path / "labels.json"
    labels.write_text(
        '{"n00000011": "fish", "n00000012": "fish", "n00000013": "dog", '
        '"n00000014": "dog", "n00000015": "dog", "n00000016": "bus", '
        '"n00000017": "bus", "n00000018": "car"}'
    )
    assert (
        main(
            [
                "discover",
                str(tmp_path / "features.npz"),
                "--labels",
                str(labels),
                "--far",
                "3",
                "--hierarchy",
                toy_hierarchy_file,
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "3 clusters of 6 classes; 2 classes in none" in printed
    assert "  - pug, school bus: meet at entity (n00000001), 3 levels up" in printed
    assert "  - dog: husky, malamute | pug" in printed
