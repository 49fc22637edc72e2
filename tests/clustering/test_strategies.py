"""The paper's automatic strategies: k levels up, and the most popular ancestor."""

from __future__ import annotations

import json

import pytest

from clustering.cil import read_cil
from clustering.cli import main
from clustering.entry_level import familiarities, fit_model, grouped_folds
from clustering.popularity import get_provider
from clustering.strategies import (
    TOO_GENERAL,
    cross_fitted_priors,
    depth_assignment,
    entry_level_priors,
    popularity_assignment,
    strategy_cil,
    suggest_label,
    synset_counts,
    term_counts,
)
from clustering.validate import validate_cil, validate_file

from .toy_hierarchy import toy_hierarchy
from .wnids import (
    ANIMAL,
    BIRD,
    BRAMBLING,
    BUS,
    CANINE,
    CRANE_BIRD,
    CRANE_MACHINE,
    CYPRINID,
    DALMATIAN,
    DOG,
    FISH,
    GOLDFISH,
    OSTRICH,
    PUG,
    RATITE,
    SCHOOL_BUS,
    TENCH,
    TROLLEYBUS,
)

# Counts are per word and shared among the word's senses: the bird is the second sense of
# "ostrich" (after a person who will not face reality) and keeps a third of it; "bird",
# tagged 29 times of 30 as the animal, keeps 93 %.
COUNTS = {
    "animal": 2_900_000_000,
    "dog": 2_200_000_000,
    "bird": 900_000_000,
    "ostrich": 3_000_000_000,
    "bus": 500_000_000,
    "school bus": 40_000_000,
    "whole": 9_000_000_000,
}


def test_depth_goes_k_steps_up_the_longest_path(small_hierarchy):
    assert depth_assignment(small_hierarchy, 0) == {c.wnid: c.wnid for c in small_hierarchy.classes}
    one = depth_assignment(small_hierarchy, 1)
    assert (one[TENCH], one[OSTRICH], one[SCHOOL_BUS], one[DALMATIAN]) == (
        CYPRINID,
        RATITE,
        BUS,
        DOG,
    )
    two = depth_assignment(small_hierarchy, 2)
    # The dalmatian's longer path runs through canine, not domestic animal.
    assert (two[OSTRICH], two[DALMATIAN]) == (BIRD, CANINE)
    assert set(depth_assignment(small_hierarchy, 99).values()) == {"n00001740"}  # entity


def test_depth_refuses_a_negative_k():
    with pytest.raises(ValueError, match="k must be a whole number"):
        depth_assignment(toy_hierarchy(), -1)


def test_popularity_leaves_out_too_general_words(small_hierarchy):
    chosen = popularity_assignment(small_hierarchy, COUNTS)
    assert chosen[DALMATIAN] == chosen[PUG] == DOG  # "animal" is searched more, but too general
    assert chosen[OSTRICH] == OSTRICH and chosen[CRANE_BIRD] == BIRD
    assert chosen[SCHOOL_BUS] == BUS
    assert chosen[TENCH] == TENCH  # no counts: the class itself
    everything = popularity_assignment(small_hierarchy, COUNTS, too_general=())
    assert everything[DALMATIAN] == ANIMAL  # the paper's failure: "animal" 2.9B > "dog" 2.2B


def test_popularity_with_a_provider(small_hierarchy):
    from clustering.popularity import get_provider

    counts = synset_counts(small_hierarchy, get_provider("wordfreq"))
    assert counts[DOG] > counts[DALMATIAN] > 0
    assert popularity_assignment(small_hierarchy, get_provider("wordfreq"))[PUG] == DOG


def test_suggest_label_is_the_entry_level_models_choice(small_hierarchy):
    from clustering.entry_level import familiarities
    from clustering.popularity import get_provider
    from clustering.strategies import entry_level_assignment, term_counts

    by_term = term_counts(small_hierarchy, get_provider("wordfreq"))
    expected = entry_level_assignment(small_hierarchy, by_term)
    familiarity = familiarities(small_hierarchy, by_term)
    for image_class in small_hierarchy.classes:
        suggestion = suggest_label(small_hierarchy, image_class.wnid, familiarity)
        assert suggestion == expected[image_class.wnid]
        assert suggestion in small_hierarchy.chain_wnids(image_class.wnid)
    assert expected[PUG] == expected[DALMATIAN] == DOG


def test_too_general_words_are_plain_lemmas(small_hierarchy):
    labels = {small_hierarchy.label(w) for w in small_hierarchy.synsets}
    assert {"entity", "whole", "organism", "animal", "artifact", "instrumentality"} <= TOO_GENERAL
    assert {"dog", "bird", "bus", "fish"} & TOO_GENERAL == set()
    assert {"entity", "whole", "animal", "artifact"} <= labels


def test_strategy_cil_resolves_conflicts():
    hierarchy = toy_hierarchy()
    # One level up, the car goes to "vehicle" and the buses to "bus", below it.
    result = strategy_cil(hierarchy, "depth", k=1, conflicts="lift")
    assert result.conflicts == 1
    assert validate_cil(result.cil, hierarchy).ok
    assert result.cil.provenance["method"] == "depth" and result.cil.provenance["k"] == 1
    with pytest.raises(ValueError, match="needs search counts"):
        strategy_cil(hierarchy, "popularity")
    with pytest.raises(ValueError, match="unknown strategy"):
        strategy_cil(hierarchy, "random")


def test_strategy_command(tmp_path, small_hierarchy_file, capsys):
    out = tmp_path / "depth.json"
    assert (
        main(
            [
                "strategy",
                "depth",
                "--k",
                "2",
                "--hierarchy",
                small_hierarchy_file,
                "--out",
                str(out),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert printed.startswith(f"{out}: ") and "(depth, k=2)" in printed
    assert "conflict(s) resolved (other)" in printed
    assert validate_file(out).ok
    counts = tmp_path / "counts.json"
    counts.write_text(json.dumps(COUNTS))
    flat = tmp_path / "popular.json"
    assert (
        main(
            [
                "strategy",
                "popularity",
                "--counts",
                str(counts),
                "--hierarchy",
                small_hierarchy_file,
                "--out",
                str(flat),
                "--flat",
            ]
        )
        == 0
    )
    assert json.loads(flat.read_text())[PUG] == "dog"


def test_strategy_command_refuses_bad_k(toy_hierarchy_file, tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(
            [
                "strategy",
                "depth",
                "--k",
                "-2",
                "--hierarchy",
                toy_hierarchy_file,
                "--out",
                str(tmp_path / "x.json"),
            ]
        )
    assert "expected at least 0, got -2" in capsys.readouterr().err


def test_strategies_on_imagenet(imagenet_hierarchy, imagenet_hierarchy_file, tmp_path, capsys):
    """The label counts and conflicts of each strategy on ImageNet-1k (printed: run with
    -s), each CIL written by the command and accepted by the validator."""
    figures = []
    # lift collapses depth k >= 2 into a few labels: asked for here, refused by default
    runs = [
        ["depth", "--k", str(k), *policy]
        for k in (1, 2, 3, 4)
        for policy in (["--conflicts", "other"], ["--conflicts", "lift", "--allow-collapse"])
    ]
    runs += [["popularity", "--conflicts", policy] for policy in ("other", "lift")]
    for number, run in enumerate(runs):
        out = tmp_path / f"{number}.json"
        assert (
            main(["strategy", *run, "--hierarchy", imagenet_hierarchy_file, "--out", str(out)]) == 0
        )
        figures.append(capsys.readouterr().out.strip().split(": ", 1)[1])
        cil = read_cil(out)
        assert len(cil.classes) == 1000
        assert validate_cil(cil, imagenet_hierarchy).ok
    print("\n" + "\n".join(figures))


def test_a_cross_fitted_prior_comes_from_a_model_that_never_saw_its_label(small_hierarchy):
    by_term = term_counts(small_hierarchy, get_provider("wordfreq"))
    familiarity = familiarities(small_hierarchy, by_term)
    labels = {DALMATIAN: DOG, PUG: DOG, TENCH: FISH, GOLDFISH: FISH, OSTRICH: BIRD}
    labels |= {BRAMBLING: BIRD, CRANE_BIRD: BIRD, SCHOOL_BUS: BUS}
    labels |= {CRANE_MACHINE: CRANE_MACHINE, TROLLEYBUS: DOG}  # dog is off its chain
    priors = cross_fitted_priors(small_hierarchy, by_term, labels, folds=2, l2_grid=(1.0,))
    usable = [c.wnid for c in small_hierarchy.classes if c.wnid != TROLLEYBUS]
    folds = grouped_folds(usable, labels, 2)
    for held in folds:
        trained = {c: labels[c] for c in usable if c not in held}
        # A label's classes are all held out together: no class of the training part
        # shares a held-out class's label.
        assert not {labels[c] for c in held} & set(trained.values())
        model = fit_model(small_hierarchy, trained, familiarity, (1.0,))
        for c in held:
            expected = model.probabilities(small_hierarchy, c, familiarity)
            assert priors[c] == pytest.approx(expected), c
    # A class whose label is off its chain was never a training example: the shipped prior.
    assert priors[TROLLEYBUS] == entry_level_priors(small_hierarchy, by_term)[TROLLEYBUS]
    assert set(priors) == {c.wnid for c in small_hierarchy.classes}
