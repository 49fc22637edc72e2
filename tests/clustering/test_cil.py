"""The CIL file: building, both formats, round trips, and what the reader refuses."""

from __future__ import annotations

import json
import re

import pytest

from clustering.cil import (
    FORMAT,
    FORMAT_VERSION,
    CILFormatError,
    build_cil,
    normalize_name,
    read_cil,
    resolve_name,
    unique_names,
    write_cil,
)
from clustering.hierarchy import Hierarchy

from . import toy_hierarchy as toy
from .wnids import (
    BIRD,
    BUS,
    CRANE_BIRD,
    CRANE_MACHINE,
    DALMATIAN,
    DOG,
    GIANT_PANDA,
    LESSER_PANDA,
    OSTRICH,
    PUG,
    SCHOOL_BUS,
    TENCH,
)

WNID = re.compile(r"n\d{8}")


def merged(hierarchy: Hierarchy, **labels: str) -> dict[str, str]:
    """Every class to itself, except the classes given (as wnid=label) to their label."""
    assignment = {c.wnid: c.wnid for c in hierarchy.classes}
    assignment.update(labels)
    return assignment


@pytest.fixture
def cil():
    """The toy hierarchy's dogs and fish merged, the vehicles each their own label."""
    hierarchy = toy.toy_hierarchy()
    assignment = merged(
        hierarchy,
        **{
            toy.HUSKY: toy.DOG,
            toy.MALAMUTE: toy.DOG,
            toy.PUG: toy.DOG,
            toy.TENCH: toy.FISH,
            toy.GOLDFISH: toy.FISH,
        },
    )
    return build_cil(hierarchy, assignment, {"method": "test"})


def test_build_refuses_a_label_off_the_class_chain():
    hierarchy = toy.toy_hierarchy()
    # The fish's label on a dog: the names could not be made (StopIteration) before.
    with pytest.raises(ValueError, match=rf"not on their hypernym chain: {toy.TENCH} -> "):
        build_cil(hierarchy, merged(hierarchy, **{toy.TENCH: toy.DOG}))


def test_build_gives_one_label_per_class_in_name_order(cil):
    hierarchy = toy.toy_hierarchy()
    assert [c.wnid for c in cil.classes] == [c.wnid for c in hierarchy.classes]
    assert [c.index for c in cil.classes] == list(range(8))
    names = [label.name for label in cil.labels]
    assert names == sorted(names)
    assert [label.index for label in cil.labels] == list(range(cil.num_labels))
    dog = cil.labels[cil.label_of(toy.HUSKY)]
    assert (dog.wnid, dog.name, dog.members) == (toy.DOG, "dog", (toy.HUSKY, toy.MALAMUTE, toy.PUG))
    assert cil.class_to_label[toy.TENCH] == cil.class_to_label[toy.GOLDFISH]
    assert cil.classes[hierarchy.class_index[toy.TENCH]].name == "tench"
    assert cil.num_labels == 5  # car, dog, fish, school bus, trolleybus
    with pytest.raises(KeyError, match="n09999999 has no label"):
        cil.label_of("n09999999")


def test_rich_round_trip_with_sorted_keys(cil, tmp_path):
    path = tmp_path / "cil.json"
    write_cil(cil, path)
    text = path.read_text()
    data = json.loads(text)
    assert (data["format"], data["format_version"]) == (FORMAT, FORMAT_VERSION)
    assert text == json.dumps(data, sort_keys=True, indent=1, ensure_ascii=False) + "\n"
    husky = next(c for c in data["classes"] if c["wnid"] == toy.HUSKY)
    assert husky["label_wnid"] == toy.DOG and husky["label_name"] == "dog"
    assert read_cil(path) == cil


def test_flat_round_trip_keeps_label_indices(cil, tmp_path):
    path = tmp_path / "flat.json"
    write_cil(cil, path, flat=True)
    data = json.loads(path.read_text())
    assert data[toy.HUSKY] == "dog" and len(data) == 8
    back = read_cil(path)
    assert [(label.index, label.name, label.members) for label in back.labels] == [
        (label.index, label.name, label.members) for label in cil.labels
    ]
    assert back.class_to_label == cil.class_to_label
    assert all(label.wnid is None for label in back.labels)
    assert back.classes[0].name == toy.TENCH  # without a hierarchy the class is known by wnid


def test_flat_without_hierarchy_orders_names_and_wnids(tmp_path):
    path = tmp_path / "flat.json"
    path.write_text(json.dumps({PUG: "dog", TENCH: "tench", DALMATIAN: "dog", OSTRICH: "bird"}))
    cil = read_cil(path)
    assert [label.name for label in cil.labels] == ["bird", "dog", "tench"]
    assert [c.wnid for c in cil.classes] == sorted([PUG, TENCH, DALMATIAN, OSTRICH])
    assert cil.labels[1].members == (DALMATIAN, PUG)
    assert cil.provenance == {"source_format": "flat"}


def test_flat_with_hierarchy_resolves_names_on_each_chain(panda_hierarchy, tmp_path):
    path = tmp_path / "flat.json"
    path.write_text(
        json.dumps(
            {
                OSTRICH: "bird",
                CRANE_BIRD: "Bird",
                DALMATIAN: "dog",
                LESSER_PANDA: "panda",
                GIANT_PANDA: "panda",  # one name, two synsets
                SCHOOL_BUS: "car",  # not on the chain of a school bus
                CRANE_MACHINE: "crane (lifting device)",  # a qualified name, as unique_names writes
                PUG: "other dog",
            }
        )
    )
    cil = read_cil(path, hierarchy=panda_hierarchy)
    by_class = {c.wnid: cil.labels[c.label_index] for c in cil.classes}
    assert by_class[OSTRICH].wnid == by_class[CRANE_BIRD].wnid == BIRD
    assert by_class[OSTRICH] is not by_class[CRANE_BIRD]  # "bird" and "Bird" are two names
    assert by_class[DALMATIAN].wnid == DOG
    assert by_class[LESSER_PANDA].wnid == LESSER_PANDA
    assert by_class[GIANT_PANDA].wnid == GIANT_PANDA
    assert by_class[LESSER_PANDA].name == by_class[GIANT_PANDA].name == "panda"
    assert by_class[SCHOOL_BUS].wnid is None
    assert by_class[CRANE_MACHINE].wnid == CRANE_MACHINE
    assert (by_class[PUG].wnid, by_class[PUG].other) == (DOG, True)
    assert cil.classes[0].name == "ostrich"
    assert cil.provenance["hierarchy_version"] == panda_hierarchy.version


def test_resolve_name_prefers_the_synset_nearest_the_class(small_hierarchy):
    assert resolve_name(small_hierarchy, SCHOOL_BUS, "bus") == (BUS, False)
    assert resolve_name(small_hierarchy, SCHOOL_BUS, "School_Bus") == (SCHOOL_BUS, False)
    assert resolve_name(small_hierarchy, SCHOOL_BUS, "autobus") == (BUS, False)  # a lemma too
    assert resolve_name(small_hierarchy, SCHOOL_BUS, "crane") == (None, False)
    assert resolve_name(small_hierarchy, CRANE_BIRD, f"crane ({CRANE_BIRD})") == (None, False)


def test_unique_names_tell_the_two_cranes_apart(small_hierarchy):
    names = unique_names(small_hierarchy, {CRANE_BIRD: "crane", CRANE_MACHINE: "crane", DOG: "dog"})
    assert names == {
        CRANE_BIRD: "crane (wading bird)",
        CRANE_MACHINE: "crane (lifting device)",
        DOG: "dog",
    }


def test_unique_names_prefer_another_lemma_to_a_parent(small_hierarchy):
    # Both want "bus"; every ancestor of the bus is the school bus's too.
    names = unique_names(small_hierarchy, {SCHOOL_BUS: "bus", BUS: "bus"})
    assert names == {SCHOOL_BUS: "bus (school bus)", BUS: "bus (autobus)"}


def test_unique_names_fall_back_to_the_sense_number(wordnet):
    # Two tables under "furniture" with one lemma each: no lemma or parent tells them apart.
    tables = Hierarchy.from_wordnet(["n03201208", "n03982430"], wordnet)  # dining, pool table
    names = unique_names(tables, {"n04379243": "table", "n04379964": "table"})
    assert names == {"n04379243": "table (sense 2)", "n04379964": "table (sense 3)"}


def test_unique_names_never_give_x_and_other_x_to_two_synsets(wordnet):
    # Two detectives (ImageNet-21k has both as classes): the police officer, qualified by
    # its lemma "investigator", and the other one, whose parent is also "investigator".
    # "detective (investigator)" beside "other detective (investigator)" would read as
    # one synset and the rest of it, which the validator refuses.
    police, private = "n10009276", "n10009484"
    detectives = Hierarchy.from_wordnet([police, private], wordnet)
    names = unique_names(detectives, {police: "detective", private: "other detective"})
    cores = [normalize_name(name).removeprefix("other ") for name in names.values()]
    assert len(set(cores)) == 2, names
    assert names[private].startswith("other detective (")


def test_names_never_hold_a_wnid_on_imagenet(imagenet_hierarchy):
    from clustering.popularity import get_provider
    from clustering.strategies import strategy_cil

    every_synset = unique_names(
        imagenet_hierarchy, {w: imagenet_hierarchy.label(w) for w in imagenet_hierarchy.synsets}
    )
    assert not [name for name in every_synset.values() if WNID.search(name)]
    # unique as every rule compares names: "Cardigan" (the corgi) and "cardigan" are one
    assert len({normalize_name(name) for name in every_synset.values()}) == len(every_synset)
    assert every_synset["n02113186"] == "Cardigan (Cardigan Welsh corgi)"
    runs = [{"strategy": "depth", "k": k} for k in (1, 2, 3, 4)]
    runs.append({"strategy": "popularity", "counts": get_provider("wordfreq")})
    for run in runs:
        cil = strategy_cil(imagenet_hierarchy, **run).cil
        assert not [label.name for label in cil.labels if WNID.search(label.name)], run


@pytest.mark.parametrize("run", [{"k": 1}, {"k": 2}, {"k": 3}, {"k": 4}, {"counts": "wordfreq"}])
def test_flat_round_trip_keeps_synsets_on_imagenet(imagenet_hierarchy, tmp_path, run):
    from clustering.popularity import get_provider
    from clustering.strategies import strategy_cil

    if "counts" in run:
        cil = strategy_cil(imagenet_hierarchy, "popularity", counts=get_provider(run["counts"])).cil
    else:
        cil = strategy_cil(imagenet_hierarchy, "depth", k=run["k"]).cil
    path = tmp_path / "flat.json"
    write_cil(cil, path, flat=True)
    back = read_cil(path, imagenet_hierarchy)
    assert [(label.wnid, label.name, label.other, label.members) for label in back.labels] == [
        (label.wnid, label.name, label.other, label.members) for label in cil.labels
    ]


def test_flat_reader_refuses_an_ambiguous_name(wordnet, tmp_path):
    # Two synsets on the printer's chain are called "printer": the machine and the device.
    printer = Hierarchy.from_wordnet(["n04004767"], wordnet)
    path = tmp_path / "flat.json"
    path.write_text(json.dumps({"n04004767": "printer"}))
    with pytest.raises(CILFormatError) as caught:
        read_cil(path, printer)
    assert caught.value.problems == [
        (
            "the name 'printer' can mean 2 synsets on the chain of n04004767 (printer): "
            "n04004475 (printer, printing machine: a machine that prints), n04004767 (printer: "
            "(computer science) an output device that prints the results of data processing); "
            "say which, e.g. 'printer (printing machine)' or 'printer (peripheral)'"
        )
    ]
    built = build_cil(printer, {"n04004767": "n04004475"})
    assert built.labels[0].name == "printer (printing machine)"
    write_cil(built, path, flat=True)
    assert read_cil(path, printer).labels[0].wnid == "n04004475"


def test_built_cil_names_collisions_apart(small_hierarchy):
    cil = build_cil(small_hierarchy, merged(small_hierarchy))
    names = {label.wnid: label.name for label in cil.labels}
    assert names[CRANE_BIRD] != names[CRANE_MACHINE]
    assert len(set(names.values())) == 10


def test_flat_writer_refuses_shared_names(panda_hierarchy, tmp_path):
    flat = tmp_path / "flat.json"
    flat.write_text(json.dumps({LESSER_PANDA: "panda", GIANT_PANDA: "panda"}))
    cil = read_cil(flat, hierarchy=panda_hierarchy)
    with pytest.raises(CILFormatError, match="share the name 'panda'"):
        write_cil(cil, tmp_path / "out.json", flat=True)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"format": "cil", "format_version": 7}', "format_version 7 is not supported"),
        ('{"format": "other"}', "format is 'other'"),
        ('{"n0211": "dog"}', "is not a wnid"),
        ('{"n02110341": ""}', "non-empty string"),
        ("{}", "maps no classes"),
    ],
)
def test_reader_refuses_what_is_no_cil(tmp_path, content, problem):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(CILFormatError, match=problem) as caught:
        read_cil(path)
    assert str(path) in str(caught.value)


def test_reader_lists_every_problem_of_a_rich_file(cil, tmp_path):
    data = cil.to_dict()
    data["classes"][0]["label_index"] = "3"  # wrong type
    del data["classes"][1]["name"]  # missing
    data["classes"][2]["label_wnid"] = toy.FISH  # disagrees with its label (dog)
    data["labels"][-1]["members"] = [12]  # not wnids
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(CILFormatError) as caught:
        read_cil(path)
    problems = caught.value.problems
    assert any("classes[0].label_index has the wrong type" in p for p in problems)
    assert any("classes[1] lacks 'name'" in p for p in problems)
    assert any(f"label_wnid {toy.FISH} differs" in p for p in problems)
    assert any("labels[4].members must be a list of class wnids" in p for p in problems)


def test_reader_accepts_what_the_validator_reports(cil, tmp_path):
    """Gaps in label indices and repeated names still read: `validate` reports them."""
    data = cil.to_dict()
    for label in data["labels"]:
        label["index"] += 10
        label["name"] = "same"
    for entry in data["classes"]:
        entry["label_index"] += 10
        entry["label_name"] = "same"
    path = tmp_path / "odd.json"
    path.write_text(json.dumps(data))
    odd = read_cil(path)
    assert [label.index for label in odd.labels] == list(range(10, 10 + cil.num_labels))
    assert odd.label_of(toy.HUSKY) == cil.label_of(toy.HUSKY) + 10


def test_names_are_made_unique_once_for_the_same_labels_and_members(monkeypatch):
    """After a vote the labels are mostly unchanged: `build_cil` keeps the last unique
    names per hierarchy, and makes them again when a label or a member changes."""
    import clustering.cil as cil_module

    calls = []
    real = cil_module.unique_names
    monkeypatch.setattr(
        cil_module, "unique_names", lambda *a, **k: calls.append(1) or real(*a, **k)
    )
    hierarchy = toy.toy_hierarchy()
    own_labels = merged(hierarchy)
    merged_dogs = merged(hierarchy, **{toy.HUSKY: toy.DOG, toy.PUG: toy.DOG})
    first = build_cil(hierarchy, own_labels)
    assert build_cil(hierarchy, dict(own_labels)) == first and calls == [1]
    second = build_cil(hierarchy, merged_dogs, other_labels=[toy.DOG])
    assert len(calls) == 2
    assert second == build_cil(toy.toy_hierarchy(), merged_dogs, other_labels=[toy.DOG])
    assert "other dog" in {label.name for label in second.labels}
    assert build_cil(hierarchy, own_labels) == first and len(calls) == 4
