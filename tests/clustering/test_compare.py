"""Label sets side by side, on three small CILs whose figures are worked out by hand."""

from __future__ import annotations

import json

import numpy as np
import pytest

from clustering.cil import write_cil
from clustering.cli import main
from clustering.compare import adjusted_rand_index, compare, read_label_set
from clustering.confusion import ModelFileError
from clustering.human_labels import read_human_labels
from clustering.strategies import assignment_result

from .toy_hierarchy import (
    BASIC_LABELS,
    CAR,
    CLASSES,
    GOLDFISH,
    HUSKY,
    MALAMUTE,
    PUG,
    SCHOOL_BUS,
    TENCH,
    TROLLEYBUS,
    VEHICLE,
    toy_hierarchy,
)

# A (BASIC_LABELS): fish {tench, goldfish}, dog {husky, malamute, pug}, bus {school bus,
# trolleybus}, car.
# B (flat): animal for five classes, vehicle for three.
COARSE = {w: "animal" for w in (TENCH, GOLDFISH, HUSKY, MALAMUTE, PUG)} | {
    w: "vehicle" for w in (SCHOOL_BUS, TROLLEYBUS, CAR)
}
# C (flat): every class alone, but the car called "vehicle", which lies above the buses'
# labels: not a partition, one problem for `validate`.
ALONE = {w: w for w in CLASSES} | {CAR: VEHICLE}


@pytest.fixture
def files(tmp_path):
    hierarchy = toy_hierarchy()
    write_cil(
        assignment_result(hierarchy, BASIC_LABELS, {"method": "by hand"}).cil,
        tmp_path / "basic.json",
    )
    (tmp_path / "coarse.json").write_text(json.dumps(COARSE))
    (tmp_path / "alone.json").write_text(
        json.dumps({w: hierarchy.label(label) for w, label in ALONE.items()})
    )
    return tmp_path


def test_the_adjusted_rand_index_by_hand():
    # A against B, 8 classes, 28 pairs. Pairs together in A: 1 + 3 + 1 = 5, in B:
    # 10 + 3 = 13, in both: 5. Expected 5 * 13 / 28; ARI = (5 - 65/28) / (9 - 65/28).
    a = [BASIC_LABELS[w] for w in CLASSES]
    b = [COARSE[w] for w in CLASSES]
    assert adjusted_rand_index(a, b) == pytest.approx(75 / 187)
    assert adjusted_rand_index(a, list(CLASSES)) == 0.0
    assert adjusted_rand_index(list(CLASSES), list(CLASSES)) == 1.0


def test_the_table_by_hand(files):
    hierarchy = toy_hierarchy()
    sets = [
        read_label_set(name, files / f"{name}.json", hierarchy)
        for name in ("basic", "coarse", "alone")
    ]
    reference = read_human_labels(files / "basic.json", hierarchy)
    rows, ari = compare(sets, hierarchy, reference)
    basic, coarse, alone = rows
    assert (basic.labels, basic.singletons, basic.largest) == (4, 1, 3 / 8)
    # -(2 * 1/4 log2 1/4 + 3/8 log2 3/8 + 1/8 log2 1/8) = 1 + 0.5306 + 0.375
    assert basic.entropy == pytest.approx(1.905639, abs=1e-6)
    assert basic.balance == pytest.approx(1.905639 / 2, abs=1e-6)
    assert (coarse.labels, coarse.singletons, coarse.largest) == (2, 0, 5 / 8)
    assert coarse.entropy == pytest.approx(0.954434, abs=1e-6)
    assert (alone.labels, alone.singletons, alone.entropy, alone.balance) == (8, 8, 3.0, 1.0)
    assert [r.agreement for r in rows] == [(8, 8), (0, 8), (0, 8)]
    assert [r.problems for r in rows] == [0, 0, 1]
    assert ari["basic", "coarse"] == ari["coarse", "basic"] == pytest.approx(75 / 187)
    assert ari["basic", "alone"] == ari["coarse", "alone"] == 0.0


def test_a_run_scores_each_set_both_ways(files):
    hierarchy = toy_hierarchy()
    position = {w: i for i, w in enumerate(CLASSES)}
    # 10 images a class; 2 huskies taken for malamutes, 2 school buses for cars, 1 tench
    # for a pug: 75 of 80 right, 77 on basic (the huskies), all 80 on coarse.
    counts = np.diag(np.full(8, 10))
    for true, predicted, n in ((HUSKY, MALAMUTE, 2), (SCHOOL_BUS, CAR, 2), (TENCH, PUG, 1)):
        counts[position[true], position[predicted]] += n
        counts[position[true], position[true]] -= n
    np.save(files / "confusion.npy", counts)
    # Two images for summed softmax: a tench whose most probable class is the pug (0.4)
    # while the fish together hold 0.5; a car whose probabilities spread over the buses.
    probabilities = np.zeros((2, 8))
    probabilities[0, [position[TENCH], position[GOLDFISH], position[PUG]]] = 0.25, 0.25, 0.4
    probabilities[0, position[CAR]] = 0.1
    probabilities[1, [position[SCHOOL_BUS], position[TROLLEYBUS], position[CAR]]] = 0.3, 0.3, 0.4
    np.save(files / "val_probabilities.npy", probabilities)
    np.save(files / "val_targets.npy", np.array([position[TENCH], position[CAR]]))
    sets = [
        read_label_set(name, files / f"{name}.json", hierarchy)
        for name in ("basic", "coarse", "alone")
    ]
    rows, _ = compare(sets, hierarchy, run=files)
    assert [r.mapped_top1 for r in rows] == [96.25, 100.0, 93.75]
    # basic: fish 0.5 beats dog 0.4 (right); buses 0.6 beat the car (wrong): 50 %.
    # coarse: animal 0.9 (right), vehicle 1.0 (right). alone: pug, car: 50 %.
    assert [r.summed_top1 for r in rows] == [50.0, 100.0, 50.0]


def test_probabilities_must_have_a_column_per_class(files):
    """Their columns are named as the confusion matrix's rows are: by classes.txt, else
    they must be the hierarchy's classes; a column short is an error, not a misread."""
    hierarchy = toy_hierarchy()
    np.save(files / "confusion.npy", np.eye(8))
    np.save(files / "val_probabilities.npy", np.full((1, 7), 1 / 7))
    np.save(files / "val_targets.npy", np.array([0]))
    with pytest.raises(ModelFileError, match="val_probabilities.npy has 7 columns"):
        compare([], hierarchy, run=files)


def test_compare_prints_markdown_and_writes_csv(files, toy_hierarchy_file, capsys):
    argv = [
        "compare",
        f"A={files / 'basic.json'}",
        str(files / "coarse.json"),
        str(files / "alone.json"),
        "--reference",
        str(files / "basic.json"),
        "--hierarchy",
        toy_hierarchy_file,
        "--csv",
        str(files / "table.csv"),
    ]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "| A | 4 | 1 | 37.5 % | 1.91 | 0.953 | 8/8 = 100.0 % | yes |" in printed
    assert "| alone | 8 | 8 | 12.5 % | 3.00 | 1.000 | 0/8 = 0.0 % | no (1 problem(s)) |" in printed
    assert "| coarse | 0.401 | 1 | 0.000 |" in printed
    lines = (files / "table.csv").read_text().splitlines()
    assert lines[0].startswith("label_set,classes,labels,singletons,largest_share")
    assert lines[1].startswith("A,8,4,1,0.375000,1.905639,0.952820,8,8,0,,,1,0.401070,")
    assert main(["compare", "B=x", "B=y", "--hierarchy", toy_hierarchy_file]) == 2
    assert "two label sets share a name" in capsys.readouterr().err


def test_a_label_set_that_is_no_json_is_an_error_not_a_traceback(
    tmp_path, toy_hierarchy_file, capsys
):
    (tmp_path / "broken.json").write_text("nope")
    assert main(["compare", str(tmp_path / "broken.json"), "--hierarchy", toy_hierarchy_file]) == 2
    assert "not JSON" in capsys.readouterr().err
