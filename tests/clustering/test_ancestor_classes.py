"""Class lists where a class lies above other classes (ImageNet-21k's "dog" above its
breeds): the toy hierarchy with "dog" itself a class, above husky, malamute and pug.

What the rules give (the README's "Classes above other classes"):
- a class's chain ends at itself, so the class "dog" can be labelled "dog" or above,
  never a breed; a breed's chain passes through the class "dog";
- a label holds the classes mapped to it: "dog" holding the class dog and pug means
  "dog" images of both; kept beside "husky" it is "other dog", which is what the class
  dog's own pictures are (dogs no listed breed names);
- the partition rule is the same: each class one label, no chosen label above another
  unless it is an "other" label, and no class of an "other" label lies under a label
  kept below it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from clustering.aggregate import aggregate
from clustering.cil import build_cil
from clustering.conflicts import find_conflicts, resolve_conflicts
from clustering.validate import validate_cil

from .toy_hierarchy import (
    ANIMAL,
    CLASSES,
    DOG,
    HUSKY,
    MALAMUTE,
    PUG,
    toy_hierarchy,
)

START = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def hierarchy():
    return toy_hierarchy((*CLASSES, DOG))


def votes(choices: dict[str, str]):
    from clustering.votes import Vote

    return [
        Vote(annotator, wnid, label, START + timedelta(minutes=i))
        for i, (wnid, label) in enumerate(choices.items())
        for annotator in ("ann1", "ann2")
    ]


def test_the_chain_of_a_class_above_others(hierarchy):
    assert hierarchy.chain_wnids(DOG)[-1] == DOG  # the class "dog" is its own last step
    assert DOG in hierarchy.chain_wnids(HUSKY)  # and a step of each breed's chain
    assert set(hierarchy.descendants[DOG]) == {DOG, HUSKY, MALAMUTE, PUG}
    assert hierarchy.is_ancestor(DOG, PUG) and not hierarchy.is_ancestor(PUG, DOG)


def test_a_label_holding_both_is_the_synset_whole(hierarchy):
    everyone = {c.wnid: c.wnid for c in hierarchy.classes}
    everyone |= {HUSKY: DOG, MALAMUTE: DOG, PUG: DOG}
    result = aggregate(hierarchy, votes(everyone), min_votes=2)
    labels = {label.wnid: label for label in result.cil.labels}
    assert set(labels[DOG].members) == {DOG, HUSKY, MALAMUTE, PUG}
    assert not labels[DOG].other
    assert validate_cil(result.cil, hierarchy).ok


def test_a_breed_kept_below_makes_the_class_dog_other_dog(hierarchy):
    choices = {c.wnid: c.wnid for c in hierarchy.classes}  # every class its own label
    choices[PUG] = DOG
    result = aggregate(hierarchy, votes(choices), min_votes=2, conflicts="other")
    labels = {label.wnid: label for label in result.cil.labels}
    assert labels[DOG].other and labels[DOG].name == "other dog"
    assert set(labels[DOG].members) == {DOG, PUG}
    assert list(labels[HUSKY].members) == [HUSKY]
    report = validate_cil(result.cil, hierarchy)
    assert report.ok, report.format()


def test_a_class_above_moves_down_into_a_label_kept_below(hierarchy):
    # The class dog chose "animal", its breeds chose "dog": kept, "dog" takes the class
    # dog down with it (a dog is no "other animal"), as any class under a kept label.
    choices = {c.wnid: DOG for c in hierarchy.classes if DOG in hierarchy.chain_wnids(c.wnid)}
    choices[DOG] = ANIMAL
    resolution = resolve_conflicts(hierarchy, choices, "votes")
    assert resolution.assignment[DOG] == DOG
    assert "moved from animal" in resolution.reasons[DOG]


def test_lift_merges_the_breeds_into_the_class_above(hierarchy):
    choices = {HUSKY: HUSKY, MALAMUTE: MALAMUTE, PUG: PUG, DOG: DOG}
    assert find_conflicts(hierarchy, choices.values()) != []
    resolution = resolve_conflicts(hierarchy, choices, "lift")
    assert set(resolution.assignment.values()) == {DOG}


def test_the_validator_names_what_breaks_the_partition(hierarchy):
    own = {c.wnid: c.wnid for c in hierarchy.classes}
    # "dog" kept as a plain label beside the breeds' own: a classifier asked to tell a
    # husky from a dog.
    report = validate_cil(build_cil(hierarchy, own), hierarchy)
    assert [f.message for f in report.failures if f.check == "partition"] == [
        (
            f"label 'dog' ({DOG}) is an ancestor of 3 other label(s): "
            f"'husky' ({HUSKY}), 'malamute' ({MALAMUTE}), 'pug' ({PUG})"
        )
    ]
    # As "other dog" beside them it is sound.
    assert validate_cil(build_cil(hierarchy, own, other_labels={DOG}), hierarchy).ok
    # A class above others is never labelled below itself.
    sound = build_cil(hierarchy, own, other_labels={DOG})
    pug_index = next(label.index for label in sound.labels if label.wnid == PUG)
    below = replace(
        sound,
        classes=[replace(c, label_index=pug_index) if c.wnid == DOG else c for c in sound.classes],
    )
    messages = [f.message for f in validate_cil(below, hierarchy).failures]
    assert f"class {DOG} (dog): label {PUG} ('pug') is not on its chain" in messages
