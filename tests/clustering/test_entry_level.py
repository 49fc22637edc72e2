"""Sense-aware familiarity, the entry-level model, its folds and its commands."""

from __future__ import annotations

import json

import numpy as np
import pytest

from clustering.cli import main
from clustering.entry_level import (
    FEATURES,
    EntryLevelModel,
    ModelError,
    candidate_features,
    cross_validate,
    familiarities,
    fit_model,
    grouped_folds,
    half_splits,
    load_default_model,
)
from clustering.familiarity import sense_share, synset_familiarity
from clustering.hierarchy import Hierarchy, HierarchyFormatError, LemmaSense
from clustering.human_labels import read_human_labels
from clustering.popularity import get_provider
from clustering.strategies import term_counts
from clustering.validate import validate_file

from .wnids import (
    BIRD,
    CRANE_BIRD,
    CRANE_MACHINE,
    DALMATIAN,
    DOG,
    FISH,
    OSTRICH,
    PUG,
    SCHOOL_BUS,
    TENCH,
    TROLLEYBUS,
)

GAME_ANIMAL = "n02152991"  # game: animals hunted for food or sport
SYSTEM_ARTIFACT = "n04377057"  # system: instrumentality that combines interrelated parts
IPOD = "n03584254"
LIFEBOAT = "n03662601"
BEER_BOTTLE = "n02823428"


@pytest.fixture(scope="module")
def sense_hierarchy(wordnet) -> Hierarchy:
    """Classes under the word senses the issue names: crane (bird, machine), a game
    bird (black grouse, under "game"), and the iPod (under "system")."""
    return Hierarchy.from_wordnet([CRANE_BIRD, CRANE_MACHINE, "n01795545", IPOD], wordnet)


def test_a_words_count_is_shared_among_its_senses(sense_hierarchy):
    counts = {"crane": 8_300_000, "game": 100_000_000, "system": 400_000_000}
    bird = synset_familiarity(sense_hierarchy.synsets[CRANE_BIRD], counts)
    machine = synset_familiarity(sense_hierarchy.synsets[CRANE_MACHINE], counts)
    # Neither crane sense was tagged: WordNet's order (machine 4th, bird 5th) shares the word.
    assert bird.count + machine.count < counts["crane"]
    assert bird.count < machine.count and bird.lemma == machine.lemma == "crane"
    game = synset_familiarity(sense_hierarchy.synsets[GAME_ANIMAL], counts)
    system = synset_familiarity(sense_hierarchy.synsets[SYSTEM_ARTIFACT], counts)
    # game the animal is the 4th of 11 senses, tagged 7 of 91 times
    assert game.count < 0.15 * counts["game"]
    assert system.count < 0.5 * counts["system"]


def test_sense_share_is_smoothed_by_rank():
    untagged = [LemmaSense(rank, 3, 0, 0) for rank in (1, 2, 3)]
    shares = [sense_share(s) for s in untagged]
    assert shares[0] > shares[1] > shares[2] > 0 and sum(shares) == pytest.approx(1.0)
    assert sense_share(LemmaSense(1, 2, 42, 42)) > 0.97  # dog the animal


def test_familiarity_comes_from_the_best_lemma(small_hierarchy):
    dog = small_hierarchy.synsets[DOG]
    assert dog.lemmas[:2] == ("dog", "domestic_dog")
    best = synset_familiarity(dog, {"dog": 10, "domestic dog": 10**6})
    assert best.lemma == "domestic dog" and best.word_count == 10**6
    assert best.sense == dog.senses[1]  # the sense facts come from the same lemma
    assert synset_familiarity(dog, {}).count is None


def test_familiarity_refuses_a_hierarchy_without_word_facts(
    small_hierarchy, tmp_path, session_wordnet
):
    data = small_hierarchy.to_dict()
    for synset in data["synsets"].values():
        del synset["lexname"], synset["senses"]
    old = Hierarchy.from_dict(data)
    assert old.version == small_hierarchy.version  # the facts are not part of the version
    with pytest.raises(HierarchyFormatError, match="no WordNet sense facts"):
        synset_familiarity(old.synsets[DOG], {"dog": 1})
    path = tmp_path / "old.json"
    path.write_text(json.dumps(data))
    assert Hierarchy.load_or_build(path).has_word_facts  # added from WordNet, and saved
    assert Hierarchy.load(path).has_word_facts


def test_grouped_folds_never_split_a_label():
    labels = {f"c{i}": f"label{i % 7}" for i in range(60)}
    folds = grouped_folds(sorted(labels), labels, 5, seed=3)
    assert sorted(c for fold in folds for c in fold) == sorted(labels)
    owners = {}
    for number, fold in enumerate(folds):
        for c in fold:
            assert owners.setdefault(labels[c], number) == number
    with pytest.raises(ModelError, match="cannot make 8 grouped folds"):
        grouped_folds(sorted(labels), labels, 8)


def _feature(hierarchy, class_wnid, familiarity, name):
    """synset label -> the feature `name` of that candidate of the class's chain."""
    chain, rows = candidate_features(hierarchy, class_wnid, familiarity)
    column = FEATURES.index(name)
    return {hierarchy.synsets[w].label: row[column] for w, row in zip(chain, rows, strict=True)}


def test_compound_head_marks_the_nearest_ancestor_ending_the_class_name(imagenet_hierarchy):
    familiarity = familiarities(imagenet_hierarchy, {})
    expected = {
        SCHOOL_BUS: "bus",  # a last word
        TROLLEYBUS: "bus",  # a closed compound
        LIFEBOAT: "boat",
        BEER_BOTTLE: "bottle",
        DALMATIAN: "dog",  # through its lemma "coach dog"
        TENCH: None,
        CRANE_BIRD: None,  # "crane" is its own name, not an ancestor's
    }
    for class_wnid, head in expected.items():
        feature = _feature(imagenet_hierarchy, class_wnid, familiarity, "compound_head")
        assert [label for label, on in feature.items() if on] == ([head] if head else [])


def test_tagged_counts_tell_running_text_words_from_specialist_ones(imagenet_hierarchy):
    familiarity = familiarities(imagenet_hierarchy, {})
    tagged = _feature(imagenet_hierarchy, DALMATIAN, familiarity, "tagged")
    assert tagged["dog"] > tagged["mammal"] > tagged["canine"] == tagged["placental"] == 0
    # "whole" (the object) was never tagged in this sense, though its word often was
    sense = _feature(imagenet_hierarchy, DALMATIAN, familiarity, "tagged_sense")
    word = _feature(imagenet_hierarchy, DALMATIAN, familiarity, "tagged_word")
    assert sense["whole"] == 0 < word["whole"]
    assert sense["dog"] == word["dog"] > 0


@pytest.fixture(scope="module")
def imagenet_familiarity(imagenet_hierarchy):
    return familiarities(
        imagenet_hierarchy, term_counts(imagenet_hierarchy, get_provider("wordfreq"))
    )


def test_the_model_learns_held_out_labels(imagenet_hierarchy, imagenet_familiarity):
    human = read_human_labels(None, imagenet_hierarchy)
    assert len(human.labels) == 978 and len(human.off_chain) == 22
    cv = cross_validate(
        imagenet_hierarchy, human.labels, imagenet_familiarity, folds=3, l2_grid=(1.0,)
    )
    # Far above leaving every class as it is (280 of 978), on labels it never saw.
    assert cv.total == 978 and cv.agreement > 0.55


def test_half_splits_score_each_half_on_groups_it_never_saw(
    imagenet_hierarchy, imagenet_familiarity
):
    labels = read_human_labels(None, imagenet_hierarchy).labels
    results = half_splits(
        imagenet_hierarchy, labels, imagenet_familiarity, splits=1, l2_grid=(1.0,)
    )
    assert len(results) == 2 and sum(r.total for r in results) == 978
    assert all(r.trained_on + r.total == 978 for r in results)
    # Each half is new label groups to its model, and still far above the class itself.
    assert all(r.agreement > 0.5 for r in results)


def test_model_file_round_trip_and_refusals(small_hierarchy, tmp_path):
    labels = {c.wnid: c.wnid for c in small_hierarchy.classes}
    labels.update({DALMATIAN: DOG, PUG: DOG, OSTRICH: BIRD, TENCH: FISH})
    familiarity = familiarities(
        small_hierarchy, term_counts(small_hierarchy, get_provider("wordfreq"))
    )
    model = fit_model(small_hierarchy, labels, familiarity, l2_grid=(1.0,))
    path = tmp_path / "model.json"
    model.save(path)
    again = EntryLevelModel.load(path)
    assert np.allclose(again.weights, model.weights) and again.features == FEATURES
    assert again.assignment(small_hierarchy, familiarity) == model.assignment(
        small_hierarchy, familiarity
    )
    data = json.loads(path.read_text())
    for broken, message in [
        ({**data, "features": ["x"]}, "other features"),
        ({**data, "weights": [1.0]}, "finite numbers"),
        ({**data, "format": "cil"}, "not an entry-level model"),
    ]:
        path.write_text(json.dumps(broken))
        with pytest.raises(ModelError, match=message):
            EntryLevelModel.load(path)
    assert load_default_model().provenance["labels"].endswith("published_cil_v3.json")


def test_entry_level_strategy_writes_a_valid_cil(tmp_path, imagenet_hierarchy_file, capsys):
    out = tmp_path / "entry.json"
    assert (
        main(["strategy", "entry-level", "--hierarchy", imagenet_hierarchy_file, "--out", str(out)])
        == 0
    )
    assert "(entry-level, the shipped model, wordfreq)" in capsys.readouterr().out
    assert validate_file(out, Hierarchy.load(imagenet_hierarchy_file)).ok
    names = [label["name"] for label in json.loads(out.read_text())["labels"]]
    assert "dog" in names and not any("(n0" in name for name in names)


def test_strategy_warns_about_synsets_without_counts(tmp_path, small_hierarchy_file, capsys):
    counts = tmp_path / "counts.json"
    counts.write_text(json.dumps({"dog": 10**8, "bird": 10**8}))
    assert (
        main(
            [
                "strategy",
                "popularity",
                "--hierarchy",
                small_hierarchy_file,
                "--counts",
                str(counts),
                "--out",
                str(tmp_path / "p.json"),
            ]
        )
        == 0
    )
    assert "synsets have no count for any lemma" in capsys.readouterr().err


def test_suggest_commands(tmp_path, imagenet_hierarchy_file, capsys):
    model = tmp_path / "model.json"
    assert (
        main(
            [
                "suggest",
                "fit",
                "--hierarchy",
                imagenet_hierarchy_file,
                "--folds",
                "2",
                "--out",
                str(model),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "held-out agreement, grouped 2-fold" in printed and "weights" in printed
    assert (
        main(["suggest", "evaluate", "--hierarchy", imagenet_hierarchy_file, "--model", str(model)])
        == 0
    )
    printed = capsys.readouterr().out
    assert "original rule" in printed and "/978 =" in printed
    assert main(["suggest", "halves", "--hierarchy", imagenet_hierarchy_file, "--splits", "1"]) == 0
    printed = capsys.readouterr().out
    assert printed.count("trained on 489 classes") == 2 and "lowest:" in printed
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    assert (
        main(["suggest", "evaluate", "--hierarchy", imagenet_hierarchy_file, "--model", str(bad)])
        == 2
    )
    assert "not an entry-level model" in capsys.readouterr().err
