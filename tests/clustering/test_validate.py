"""The validator on sound and broken files: every failure is reported, readably."""

from __future__ import annotations

import json

import pytest

from clustering.cil import build_cil, write_cil
from clustering.cli import main
from clustering.validate import validate_cil, validate_file

from .wnids import (
    BIRD,
    BRAMBLING,
    CRANE_BIRD,
    DALMATIAN,
    DOG,
    GIANT_PANDA,
    LESSER_PANDA,
    MAMMAL,
    OSTRICH,
    PUG,
    SCHOOL_BUS,
    TENCH,
)


@pytest.fixture
def sound(small_hierarchy):
    assignment = {c.wnid: c.wnid for c in small_hierarchy.classes}
    assignment.update({OSTRICH: BIRD, BRAMBLING: BIRD, CRANE_BIRD: BIRD, DALMATIAN: DOG, PUG: DOG})
    return build_cil(small_hierarchy, assignment)


def own_labels(hierarchy) -> dict[str, str]:
    """The flat CIL of every class as its own label, names made unique ("crane (...)")."""
    return build_cil(hierarchy, {c.wnid: c.wnid for c in hierarchy.classes}).to_flat()


def write(tmp_path, data) -> str:
    path = tmp_path / "cil.json"
    path.write_text(json.dumps(data))
    return str(path)


def test_a_sound_cil_passes(sound, small_hierarchy, tmp_path):
    path = tmp_path / "cil.json"
    write_cil(sound, path)
    report = validate_file(path, small_hierarchy)
    assert report.ok, report.format()
    assert report.checks == ["format", "coverage", "indices", "names", "lemmas", "partition"]
    assert report.format().splitlines()[-1] == "valid"


def test_without_a_hierarchy_the_partition_is_skipped(sound):
    report = validate_cil(sound)
    assert report.ok and report.skipped == {
        "lemmas": "needs the hierarchy",
        "partition": "needs the hierarchy",
    }
    assert "partition: skipped (needs the hierarchy)" in report.format()


def test_every_failure_is_reported_at_once(sound, small_hierarchy, tmp_path):
    data = sound.to_dict()
    dropped = data["classes"].pop()  # trolleybus: coverage
    for label in data["labels"]:
        label["members"] = [m for m in label["members"] if m != dropped["wnid"]]
    data["labels"] = [
        label for label in data["labels"] if label["members"] or label["name"] == "tench"
    ]
    tench = next(label for label in data["labels"] if label["name"] == "tench")
    tench["name"] = "bird"  # a second "bird": names
    for entry in data["classes"]:
        if entry["label_index"] == tench["index"]:
            entry["label_name"] = "bird"
    for label in data["labels"]:  # a gap in the label indices: indices
        if label["index"] >= 3:
            label["index"] += 1
    for entry in data["classes"]:
        if entry["label_index"] >= 3:
            entry["label_index"] += 1
    report = validate_file(write(tmp_path, data), small_hierarchy)
    assert not report.ok
    assert [f.check for f in report.failures] == ["coverage", "indices", "names", "lemmas"]
    assert report.failed("coverage")[0].message == (
        "1 of the hierarchy's 10 classes have no label: n04487081 (trolleybus)"
    )
    assert report.failed("indices")[0].message.startswith("label indices are not 0..5: missing 3")
    assert report.failed("names")[0].message.startswith("the name 'bird' stands for 2 labels")
    text = report.format()
    assert "coverage: FAILED, 1 problem(s)" in text and "INVALID: 4 problem(s)" in text


def test_conflicts_and_off_chain_labels_fail_the_partition(small_hierarchy, tmp_path):
    flat = own_labels(small_hierarchy)
    flat.update(
        {BRAMBLING: "bird", CRANE_BIRD: "bird", PUG: "mammal", DALMATIAN: "dog", SCHOOL_BUS: "car"}
    )
    report = validate_file(write(tmp_path, flat), small_hierarchy)
    messages = [f.message for f in report.failed("partition")]
    assert messages == [
        "class n04146614 (school bus): the label name 'car' is no synset on its chain",
        "label 'bird' (n01503061) is an ancestor of 1 other label(s): 'ostrich' (n01518878)",
        "label 'mammal' (n01861778) is an ancestor of 1 other label(s): 'dog' (n02084071)",
    ]


def test_an_other_label_may_have_labels_below_it(small_hierarchy, tmp_path):
    flat = own_labels(small_hierarchy)
    flat.update({BRAMBLING: "other bird", CRANE_BIRD: "other bird"})
    assert validate_file(write(tmp_path, flat), small_hierarchy).ok


def test_the_published_cils_panda(panda_hierarchy, tmp_path):
    flat = own_labels(panda_hierarchy)
    flat.update({LESSER_PANDA: "panda", GIANT_PANDA: "panda"})
    report = validate_file(write(tmp_path, flat), panda_hierarchy)
    assert [f.message for f in report.failures] == [
        f"the name 'panda' stands for 2 labels: 6 ({LESSER_PANDA}), 7 ({GIANT_PANDA})"
    ]


def test_overlaps_are_warnings(small_hierarchy, tmp_path):
    flat = own_labels(small_hierarchy)
    flat.update({DALMATIAN: "domestic animal", PUG: "canine"})
    report = validate_file(write(tmp_path, flat), small_hierarchy)
    assert report.ok
    assert report.warnings == [
        (
            "class n02110341 (dalmatian), labelled 'domestic animal', also lies under the label "
            "'canine' (n02083346) on another hypernym path"
        ),
        (
            "class n02110958 (pug), labelled 'canine', also lies under the label 'domestic animal' "
            "(n01317541) on another hypernym path"
        ),
    ]


def test_class_indices_must_follow_the_hierarchy(sound, small_hierarchy, tmp_path):
    data = sound.to_dict()
    data["classes"][0]["index"], data["classes"][1]["index"] = 1, 0
    report = validate_file(write(tmp_path, data), small_hierarchy)
    assert [f.check for f in report.failures] == ["coverage", "coverage"]
    assert report.failures[1].message == (
        "class n01440764 (tench) has index 1, but it is 0 in sorted wnid order"
    )


def test_a_file_that_is_no_cil(tmp_path):
    report = validate_file(
        write(
            tmp_path,
            {"format": "cil", "format_version": 1, "classes": {}, "labels": [], "provenance": {}},
        )
    )
    assert [f.message for f in report.failures] == ["'classes' must be a JSON array"]
    assert set(report.skipped) == {"coverage", "indices", "names", "lemmas", "partition"}


def test_validate_command(sound, small_hierarchy, small_hierarchy_file, tmp_path, capsys):
    good = tmp_path / "good.json"
    write_cil(sound, good)
    assert main(["validate", str(good), "--hierarchy", small_hierarchy_file]) == 0
    assert capsys.readouterr().out.endswith("valid\n")
    flat = own_labels(small_hierarchy)
    flat.update({BRAMBLING: "bird", PUG: "mammal"})
    flat.pop(TENCH)
    bad = write(tmp_path, flat)
    assert main(["validate", bad, "--hierarchy", small_hierarchy_file]) == 1
    out = capsys.readouterr().out
    assert "have no label: n01440764 (tench)" in out
    assert "'bird' (n01503061) is an ancestor of 2 other label(s): 'crane (wading bird)'" in out
    assert "'mammal' (n01861778) is an ancestor of 1 other label(s): 'dalmatian'" in out
    assert out.endswith("INVALID: 3 problem(s)\n")


def test_validate_command_on_a_file_that_is_no_json(toy_hierarchy_file, tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    # Not a CIL that fails its checks but no CIL at all: exit 2 and one line, no report.
    assert main(["validate", str(bad), "--hierarchy", toy_hierarchy_file]) == 2
    captured = capsys.readouterr()
    assert captured.err == (
        f"error: {bad}: not JSON: Expecting property name enclosed in double quotes: "
        "line 1 column 2 (char 1)\n"
    )
    assert captured.out == ""


# --- names and "other" labels: each case on a small hand-made file ------------------------
CAR_WHEEL, PADDLEWHEEL = "n02974003", "n03874293"  # under simple machine, first lemma "machine"
CASH_MACHINE, CHAIN_SAW = "n02977058", "n03000684"  # under machine.n.01
SIMPLE_MACHINE, MACHINE = "n03700963", "n03699975"


@pytest.fixture(scope="module")
def machine_hierarchy(wordnet):
    from clustering.hierarchy import Hierarchy

    return Hierarchy.from_wordnet([CAR_WHEEL, PADDLEWHEEL, CASH_MACHINE, CHAIN_SAW], wordnet)


def renamed(cil, wnid: str, name: str) -> dict:
    """`cil` as rich JSON with label `wnid` renamed, its classes' copies too."""
    data = cil.to_dict()
    for label in data["labels"]:
        if label["wnid"] == wnid:
            label["name"] = name
    for entry in data["classes"]:
        if entry["label_wnid"] == wnid:
            entry["label_name"] = name
    return data


def test_an_other_label_holding_a_class_under_a_label_below_it_fails(small_hierarchy, tmp_path):
    flat = own_labels(small_hierarchy)
    flat.update({DALMATIAN: "other mammal", PUG: "dog"})  # a dalmatian is a dog
    report = validate_file(write(tmp_path, flat), small_hierarchy)
    assert [f.message for f in report.failed("partition")] == [
        (
            f"'other mammal' ({MAMMAL}) holds 1 class(es) that lie under the label 'dog' ({DOG}) "
            f"below it: {DALMATIAN} (dalmatian)"
        )
    ]


def test_an_other_label_with_nothing_below_it_fails(small_hierarchy, tmp_path):
    flat = own_labels(small_hierarchy)
    flat.update({DALMATIAN: "other dog", PUG: "other dog"})
    report = validate_file(write(tmp_path, flat), small_hierarchy)
    assert [f.message for f in report.failed("partition")] == [
        (
            f"'other dog' ({DOG}) is an 'other' label, but no chosen label lies below it: "
            "call it 'dog'"
        )
    ]


def test_x_and_other_x_on_different_synsets_fail(machine_hierarchy, tmp_path):
    flat = {
        CAR_WHEEL: "machine",
        PADDLEWHEEL: "machine",
        CASH_MACHINE: "other machine",
        CHAIN_SAW: "chain saw",
    }
    report = validate_file(write(tmp_path, flat), machine_hierarchy)
    assert [f.message for f in report.failures] == [
        f"'machine' ({SIMPLE_MACHINE}) and 'other machine' ({MACHINE}) are different synsets"
    ]


def test_build_cil_names_x_and_other_x_apart(machine_hierarchy):
    assignment = {
        CAR_WHEEL: SIMPLE_MACHINE,
        PADDLEWHEEL: SIMPLE_MACHINE,
        CASH_MACHINE: MACHINE,
        CHAIN_SAW: CHAIN_SAW,
    }
    cil = build_cil(machine_hierarchy, assignment, other_labels={MACHINE})
    names = {label.wnid: label.name for label in cil.labels}
    assert names[SIMPLE_MACHINE] == "machine (simple machine)"
    assert names[MACHINE] == "other machine (sense 1)"  # all above it is above both
    assert validate_cil(cil, machine_hierarchy).ok


def test_a_name_that_is_no_lemma_of_its_synset_fails(sound, small_hierarchy, tmp_path):
    report = validate_file(write(tmp_path, renamed(sound, DOG, "doggy")), small_hierarchy)
    assert [f.message for f in report.failures] == [
        (
            f"label 'doggy' ({DOG}) is not named by a lemma of its synset (dog, domestic dog, "
            "Canis familiaris), nor 'other ' and one"
        )
    ]
    # "other" must say what the label is, no more and no less
    report = validate_file(write(tmp_path, renamed(sound, DOG, "other dog")), small_hierarchy)
    assert [f.check for f in report.failures] == ["lemmas"]


def test_a_qualifier_must_be_a_lemma_of_the_synset_or_above(sound, small_hierarchy, tmp_path):
    good = renamed(sound, DOG, "dog (canine)")
    assert validate_file(write(tmp_path, good), small_hierarchy).ok
    bad = renamed(sound, DOG, "dog (cat)")
    assert [f.message for f in validate_file(write(tmp_path, bad), small_hierarchy).failures] == [
        (
            f"label 'dog (cat)' ({DOG}): 'cat' is neither a lemma of the synset or of one above "
            "it nor its sense number"
        )
    ]


def test_a_wnid_in_a_name_fails(sound, small_hierarchy, tmp_path):
    report = validate_file(write(tmp_path, renamed(sound, DOG, f"dog ({DOG})")), small_hierarchy)
    assert [f.message for f in report.failures] == [
        f"label 'dog ({DOG})' ({DOG}) holds a wnid: display names are words"
    ]


def test_one_problem_is_reported_once(small_hierarchy, tmp_path):
    """An unknown name on one class and a known one on another: the published CIL's
    "car" on the car wheel. The partition check names the class; names stays quiet."""
    flat = own_labels(small_hierarchy)
    flat.update({OSTRICH: "bird", BRAMBLING: "bird", CRANE_BIRD: "bird", SCHOOL_BUS: "bird"})
    report = validate_file(write(tmp_path, flat), small_hierarchy)
    assert [f.message for f in report.failures] == [
        "class n04146614 (school bus): the label name 'bird' is no synset on its chain"
    ]
