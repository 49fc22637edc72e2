"""A curated tree in BREEDS' format, cut at a level, with classes it leaves out."""

from __future__ import annotations

import pytest

from clustering.cil import read_cil
from clustering.cli import main
from clustering.tree_cut import TreeFormatError, cut_tree, read_tree
from clustering.validate import validate_file

from .toy_hierarchy import (
    ANIMAL,
    BUS,
    CAR,
    DOG,
    ENTITY,
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

# The toy tree as a curator edited it: the fish, the pug and the trolleybus are left
# out, and the car moved under "bus", where WordNet does not put it.
EDGES = [
    (ENTITY, ANIMAL),
    (ENTITY, VEHICLE),
    (ANIMAL, DOG),
    (DOG, HUSKY),
    (DOG, MALAMUTE),
    (VEHICLE, BUS),
    (BUS, SCHOOL_BUS),
    (BUS, CAR),
]
NAMES = {
    ENTITY: "entity",
    ANIMAL: "animal",
    VEHICLE: "vehicle",
    DOG: "dog",
    BUS: "buses and cars",
    HUSKY: "husky",
    MALAMUTE: "malamute",
    SCHOOL_BUS: "school bus",
    CAR: "car",
}


@pytest.fixture
def tree_dir(tmp_path):
    (tmp_path / "class_hierarchy.txt").write_text(
        "".join(f"{parent} {child}\n" for parent, child in EDGES)
    )
    (tmp_path / "node_names.txt").write_text(
        "".join(f"{wnid}\t{name}\n" for wnid, name in NAMES.items())
    )
    return tmp_path


def test_levels_are_shortest_distances_from_the_root(tree_dir):
    tree = read_tree(tree_dir)
    assert (tree.level[ENTITY], tree.level[DOG], tree.level[CAR]) == (0, 2, 3)
    assert tree.name(BUS) == "buses and cars"
    assert tree.ancestors_at(CAR, 1) == [VEHICLE]


def test_a_cut_keeps_the_groups_names_them_in_wordnet_and_places_the_left_out(tree_dir):
    cut = cut_tree(read_tree(tree_dir), toy_hierarchy(), 2)
    # "bus" is not on the car's chain: the group is named by the deepest synset over both.
    assert cut.groups == {DOG: DOG, BUS: VEHICLE}
    assert cut.renamed == {BUS: VEHICLE}
    # The pug joins "dog" and the trolleybus "vehicle", the labels above them in WordNet;
    # no chosen label lies above the fish, which stay themselves.
    assert cut.left_out_joined == (PUG, TROLLEYBUS)
    assert cut.left_out_alone == (TENCH, GOLDFISH)
    assert cut.assignment == {
        TENCH: TENCH,
        GOLDFISH: GOLDFISH,
        HUSKY: DOG,
        MALAMUTE: DOG,
        PUG: DOG,
        SCHOOL_BUS: VEHICLE,
        TROLLEYBUS: VEHICLE,
        CAR: VEHICLE,
    }
    assert cut.report(read_tree(tree_dir), toy_hierarchy()) == [
        (
            "tree node buses and cars (n00000006) is not on every member's WordNet chain: "
            "labelled vehicle (n00000005)"
        ),
        (
            "4 of 8 classes are not in the tree: 2 joined the chosen label above them in WordNet, "
            "2 kept their own label"
        ),
    ]


def test_a_cut_above_the_classes_keeps_shallow_classes_as_they_are(tree_dir):
    one = cut_tree(read_tree(tree_dir), toy_hierarchy(), 1)
    assert set(one.assignment.values()) == {ANIMAL, VEHICLE}
    deep = cut_tree(read_tree(tree_dir), toy_hierarchy(), 3)
    assert deep.assignment[HUSKY] == HUSKY and deep.assignment[CAR] == CAR


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("n00000001\n", "line 1: expected 'PARENT_WNID CHILD_WNID'"),
        ("n00000001 n00000002\nn00000002 n00000002\n", "line 2: n00000002 is its own parent"),
        (
            "n00000001 n00000002\nn00000002 n00000003\nn00000003 n00000002\n",
            "lie on or below a cycle",
        ),
    ],
)
def test_a_broken_tree_is_refused_with_its_line(tmp_path, text, message):
    (tmp_path / "class_hierarchy.txt").write_text(text)
    with pytest.raises(TreeFormatError, match=message):
        read_tree(tmp_path / "class_hierarchy.txt")


def test_strategy_hierarchy_writes_a_valid_cil_and_reports(
    tree_dir, tmp_path, toy_hierarchy_file, capsys
):
    out = tmp_path / "cil.json"
    assert (
        main(
            [
                "strategy",
                "hierarchy",
                "--tree",
                str(tree_dir),
                "--level",
                "2",
                "--hierarchy",
                toy_hierarchy_file,
                "--out",
                str(out),
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    assert "4 labels for 8 classes" in captured.out and "1 renamed" in captured.out
    assert "warning: 4 of 8 classes are not in the tree" in captured.err
    assert sorted(label.name for label in read_cil(out).labels) == [
        "dog",
        "goldfish",
        "tench",
        "vehicle",
    ]
    assert validate_file(out, toy_hierarchy()).ok
    assert (
        main(
            [
                "strategy",
                "hierarchy",
                "--tree",
                str(tmp_path / "none"),
                "--level",
                "2",
                "--hierarchy",
                toy_hierarchy_file,
                "--out",
                str(out),
            ]
        )
        == 2
    )
    assert "BREEDS-Benchmarks repository" in capsys.readouterr().err
