"""Labels from a model's confusions, merged only through WordNet synsets."""

from __future__ import annotations

import json

import numpy as np
import pytest

from clustering.cil import read_cil
from clustering.cli import main
from clustering.confusion import (
    CLASSES_FILE,
    ModelFileError,
    confusion_similarity,
    merge_by_confusion,
    read_class_matrix,
    weight_similarity,
)
from clustering.validate import validate_file

from .toy_hierarchy import (
    BASIC_LABELS,
    BUS,
    CAR,
    CLASSES,
    DOG,
    ENTITY,
    FISH,
    GOLDFISH,
    HUSKY,
    MALAMUTE,
    PUG,
    SCHOOL_BUS,
    TENCH,
    TROLLEYBUS,
    toy_hierarchy,
)

POSITION = {wnid: i for i, wnid in enumerate(CLASSES)}


def confusions(*pairs: tuple[str, str, int], images: int = 50) -> np.ndarray:
    """50 validation images a class; (true, predicted, count) taken off the diagonal."""
    counts = np.diag(np.full(len(CLASSES), images))
    for true, predicted, count in pairs:
        counts[POSITION[true], POSITION[predicted]] += count
        counts[POSITION[true], POSITION[true]] -= count
    return counts


# Mutual confusion rates: fish 0.2, husky-malamute 0.3, pug-husky 0.1, buses 0.16, and a
# malamute taken for a school bus 12 times in 50 (0.12 mutual): more than pug and husky,
# but across the tree. Merges then score (see clustering.confusion): fish 0.2, bus 0.16,
# dog (0.3 + 0.1) * 2 / (3 * 2) = 0.133; afterwards only entity is left with any
# confusion, 0.12 * 2 / (8 classes * 3 labels removed) = 0.01.
MATRIX = confusions(
    (TENCH, GOLDFISH, 10),
    (GOLDFISH, TENCH, 10),
    (HUSKY, MALAMUTE, 15),
    (MALAMUTE, HUSKY, 15),
    (PUG, HUSKY, 10),
    (SCHOOL_BUS, TROLLEYBUS, 8),
    (TROLLEYBUS, SCHOOL_BUS, 8),
    (MALAMUTE, SCHOOL_BUS, 12),
)


def test_similarity_is_the_mutual_confusion_rate():
    similarity = confusion_similarity(MATRIX)
    assert similarity[POSITION[PUG], POSITION[HUSKY]] == pytest.approx(0.1)
    assert similarity[POSITION[MALAMUTE], POSITION[SCHOOL_BUS]] == pytest.approx(0.12)
    assert np.allclose(similarity, similarity.T) and not similarity.diagonal().any()


def test_merges_follow_the_confusions_inside_wordnet():
    result = merge_by_confusion(toy_hierarchy(), confusion_similarity(MATRIX))
    assert [(m.label, round(m.score, 4)) for m in result.merges] == [
        (FISH, 0.2),
        (BUS, 0.16),
        (DOG, 0.1333),
    ]
    assert result.assignment == BASIC_LABELS  # fish, dog, bus, and the car alone
    # The malamute-school bus confusion would need "entity", which scores 0.01.
    assert "best 0.0100" in result.stopped


def test_an_unconstrained_merge_would_have_joined_the_malamute_and_the_bus():
    """The cross-tree pair is more confused than pug and husky, which did merge."""
    similarity = confusion_similarity(MATRIX)
    cross = similarity[POSITION[MALAMUTE], POSITION[SCHOOL_BUS]]
    assert cross > similarity[POSITION[PUG], POSITION[HUSKY]]


def test_a_label_count_stops_merging_early_and_a_low_threshold_goes_on():
    hierarchy, similarity = toy_hierarchy(), confusion_similarity(MATRIX)
    two_merges = merge_by_confusion(hierarchy, similarity, max_labels=6)
    assert [m.label for m in two_merges.merges] == [FISH, BUS]
    everything = merge_by_confusion(hierarchy, similarity, max_labels=1, threshold=0.005)
    assert set(everything.assignment.values()) == {ENTITY}


def test_weight_rows_merge_the_classes_whose_rows_point_alike():
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(len(CLASSES), 16))
    rows[POSITION[GOLDFISH]] = rows[POSITION[TENCH]] + 0.1 * rng.normal(size=16)
    result = merge_by_confusion(toy_hierarchy(), weight_similarity(rows), threshold=0.05)
    assert [m.label for m in result.merges] == [FISH]


def test_rows_are_read_by_the_class_list_beside_the_matrix(tmp_path):
    order = list(reversed(CLASSES))
    np.save(tmp_path / "confusion.npy", MATRIX[::-1, ::-1])
    (tmp_path / CLASSES_FILE).write_text("\n".join(order) + "\n")
    assert (read_class_matrix(tmp_path, toy_hierarchy()) == MATRIX).all()
    (tmp_path / CLASSES_FILE).write_text("\n".join(order[:3]) + "\n")
    with pytest.raises(ModelFileError, match="names 3 classes"):
        read_class_matrix(tmp_path, toy_hierarchy())
    with pytest.raises(ModelFileError, match="head_weights.npy does not exist"):
        read_class_matrix(tmp_path, toy_hierarchy(), weights=True)


def test_strategy_confusion_writes_a_valid_cil(tmp_path, toy_hierarchy_file, capsys):
    np.save(tmp_path / "confusion.npy", MATRIX)
    out = tmp_path / "cil.json"
    assert (
        main(
            [
                "strategy",
                "confusion",
                "--run",
                str(tmp_path),
                "--hierarchy",
                toy_hierarchy_file,
                "--out",
                str(out),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "4 labels for 8 classes (confusion matrix, 3 merges" in printed
    assert sorted(label.name for label in read_cil(out).labels) == ["bus", "car", "dog", "fish"]
    assert json.loads(out.read_text())["provenance"]["merges"][0] == ["n00000003", 0.2]
    assert validate_file(out, toy_hierarchy()).ok


def test_the_synthetic_matrix_has_its_images_and_gives_a_valid_cil():
    from benchmarks.synthetic_confusion import synthetic_confusion

    hierarchy = toy_hierarchy()
    counts = synthetic_confusion(hierarchy, cross=2, seed=1)
    assert counts.shape == (8, 8) and (counts.sum(axis=1) == 50).all()
    result = merge_by_confusion(hierarchy, confusion_similarity(counts))
    assert set(result.assignment) == set(CLASSES)
    # Mistakes fall off with WordNet distance: a class is taken for its sibling most.
    assert counts[POSITION[HUSKY], POSITION[MALAMUTE]] > counts[POSITION[HUSKY], POSITION[CAR]]


def test_strategy_confusion_reads_weight_rows_and_refuses_a_stray_temperature(
    tmp_path, toy_hierarchy_file, capsys
):
    rows = np.random.default_rng(0).normal(size=(len(CLASSES), 16))
    rows[POSITION[GOLDFISH]] = rows[POSITION[TENCH]]
    np.save(tmp_path / "head_weights.npy", rows)
    out = tmp_path / "cil.json"
    run = [
        "strategy",
        "confusion",
        "--run",
        str(tmp_path),
        "--hierarchy",
        toy_hierarchy_file,
        "--out",
        str(out),
    ]
    assert main([*run, "--weights", "--threshold", "0.05"]) == 0
    assert "7 labels for 8 classes (head weight rows, 1 merges" in capsys.readouterr().out
    assert main([*run, "--temperature", "0.5"]) == 2
    assert "--temperature is for --weights" in capsys.readouterr().err
