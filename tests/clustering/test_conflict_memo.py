"""An aggregation that reuses what the last one on its hierarchy kept
(`clustering.conflict_memo`, the log priors, the classes' tallies) gives exactly what one on a fresh hierarchy
gives: after changed minds, labels chosen for the first time or no longer, decisions,
and classes too short of votes."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from clustering.aggregate import aggregate
from clustering.cil import dumps_cil
from clustering.hierarchy import ChainEntry, Hierarchy, ImageClass, Synset
from clustering.votes import LabelDecision

from .toy_hierarchy import (
    ANIMAL,
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
    VEHICLE,
    toy_hierarchy,
)
from .wnids import START, decision, vote

# Dog and fish are classes too (ImageNet-21k lists "dog" above "beagle"): labels below a
# class's own synset, and classes whose label can be their own inner synset.
WITH_INNER = (*CLASSES, DOG, FISH)


def outputs(hierarchy, votes, decisions, **options) -> tuple:
    """What an aggregation exports and shows, its clock's time aside."""
    result = aggregate(hierarchy, votes, decisions, **options)
    cil = replace(result.cil, provenance={**result.cil.provenance, "created_at": None})
    return (
        dumps_cil(cil),
        json.dumps(result.report(), sort_keys=True),
        result.resolution,
        {w: (o.label, o.status, o.confidence, o.leaders_known) for w, o in result.outcomes.items()},
    )


def assert_each_step_as_fresh(
    steps: list[tuple[list, list]],
    *,
    make: Callable[[], Hierarchy] = lambda: toy_hierarchy(WITH_INNER),
    **options,
) -> None:
    """Aggregate each (votes, decisions) in turn on one hierarchy `make()` gives, which
    keeps what the last one left, and on a fresh one: the two must agree at every step."""
    kept = make()
    priors = {DOG: {ENTITY: 0.1, ANIMAL: 0.3, DOG: 0.6}, PUG: {ENTITY: 0.2, ANIMAL: 0.2, DOG: 0.5}}
    for number, (votes, decisions) in enumerate(steps):
        run = dict(min_votes=2, priors=priors, check_decisions=False, **options)
        again = outputs(kept, votes, decisions, **run)
        assert again == outputs(make(), votes, decisions, **run), number


def test_changed_minds_and_new_labels_give_what_a_fresh_aggregation_gives():
    first = [
        *(vote(a, c, ANIMAL) for a in "abc" for c in (TENCH, GOLDFISH, HUSKY, MALAMUTE)),
        vote("a", PUG, DOG),
        vote("b", PUG, DOG),
        vote("c", PUG, ANIMAL),
        *(vote(a, c, VEHICLE) for a in "abc" for c in (SCHOOL_BUS, TROLLEYBUS)),
        vote("a", CAR, CAR),
        vote("b", CAR, CAR),
        vote("a", DOG, DOG),
        vote("b", DOG, ANIMAL),
        vote("a", FISH, FISH),
        vote("b", FISH, ANIMAL),
    ]
    # The pug's voters change their minds: "dog" loses it, then "pug" is chosen for the
    # first time, then a school bus's "bus" is, and one class has too few votes again.
    steps = [
        first,
        [*first, vote("a", PUG, ANIMAL, minute=1)],
        [*first, vote("a", PUG, PUG, minute=1), vote("b", PUG, PUG, minute=2)],
        [
            *first,
            vote("a", PUG, PUG, minute=1),
            vote("b", PUG, PUG, minute=2),
            vote("a", SCHOOL_BUS, BUS, minute=3),
            vote("b", SCHOOL_BUS, BUS, minute=4),
            vote("c", TROLLEYBUS, BUS, minute=5),
        ],
        [*first[:-1], vote("c", TENCH, FISH, minute=6), vote("a", TENCH, FISH, minute=7)],
    ]
    decided = [
        decision(HUSKY, DOG, minute=7),
        LabelDecision("admin", VEHICLE, (BUS,), (), START + timedelta(minutes=8)),
    ]
    assert_each_step_as_fresh(
        [(votes, []) for votes in steps] + [(steps[3], decided), (steps[3], decided[:1])],
        weighting="confidence",
    )


def test_a_class_whose_votes_stayed_keeps_its_tally_and_follows_its_annotators_skills():
    """The pug's votes stay while "a" disagrees on the tench: a's reliability moves, and
    the pug's confidence with it, but its tally is the last one's (the same dicts)."""
    shared = [vote(a, c, ANIMAL) for a in "abc" for c in (TENCH, GOLDFISH, HUSKY, MALAMUTE)]
    first = [*shared, vote("a", PUG, DOG), vote("d", PUG, ANIMAL)]
    second = [*first, vote("a", TENCH, FISH, minute=1)]
    run = {"weighting": "confidence", "min_votes": 2}
    kept = toy_hierarchy(WITH_INNER)
    before = aggregate(kept, first, **run).outcomes
    after = aggregate(kept, second, **run).outcomes
    assert after[PUG].confidence != before[PUG].confidence
    assert after[PUG].scores is before[PUG].scores and after[PUG].votes is before[PUG].votes
    assert after[TENCH].votes != before[TENCH].votes
    assert_each_step_as_fresh([(first, []), (second, [])], weighting="confidence")


def two_paths() -> Hierarchy:
    """Dogs and cats are animals and pets at once: a class may be labelled on either path,
    so its final label hangs on its own label, not only on the labels kept on its chain.

        entity ── animal ── dog, cat, wolf      entity ── pet ── dog, cat
        dog ── husky, pug                       cat ── tabby
    """
    entity, animal, pet, dog, cat = (f"n0000010{i}" for i in range(5))
    husky, pug, tabby, wolf = (f"n0000011{i}" for i in range(4))
    parents = {
        animal: (entity,),
        pet: (entity,),
        dog: (animal, pet),
        cat: (animal, pet),
        wolf: (animal,),
        husky: (dog,),
        pug: (dog,),
        tabby: (cat,),
    }
    names = dict(
        zip([entity, animal, pet, dog, cat, husky, pug, tabby, wolf], NAMES_2, strict=True)
    )

    def paths(wnid: str) -> list[list[str]]:
        above = parents.get(wnid, ())
        return [[*p, wnid] for parent in above for p in paths(parent)] or [[wnid]]

    def depth(wnid: str) -> int:
        return max(len(p) for p in paths(wnid)) - 1

    synsets = {w: Synset(w, f"{n}.n.01", (n,), f"a {n}", depth(w)) for w, n in names.items()}
    classes = []
    for index, wnid in enumerate(sorted([husky, pug, tabby, wolf, dog])):
        found = paths(wnid)
        on = sorted({w for p in found for w in p}, key=lambda w: (depth(w), w))
        chain = tuple(ChainEntry(w, tuple(i for i, p in enumerate(found) if w in p)) for w in on)
        classes.append(ImageClass(index, wnid, chain, len(found)))
    return Hierarchy(synsets, parents, classes)


NAMES_2 = ("entity", "animal", "pet", "dog", "cat", "husky", "pug", "tabby", "wolf")
HIERARCHIES = {"one path": lambda: toy_hierarchy(WITH_INNER), "two paths": two_paths}


def votes_on(make) -> st.SearchStrategy:
    """Batches of (annotator, class, a pick on its chain) on the hierarchy `make()`."""
    chains = {c.wnid: make().chain_wnids(c.wnid) for c in make().classes}
    vote_ = st.tuples(
        st.sampled_from("abcd"), st.sampled_from(sorted(chains)), st.integers(0, 5)
    ).map(lambda t: (t[0], t[1], chains[t[1]][t[2] % len(chains[t[1]])]))
    return st.lists(st.lists(vote_, max_size=30), min_size=2, max_size=5)


def test_a_class_moved_to_another_path_gives_what_a_fresh_aggregation_gives():
    """The pug's latest votes move its label from one path to the other: its final label
    may change where no label kept on its chain does."""
    h = two_paths()
    w = {s.name.split(".")[0]: wnid for wnid, s in h.synsets.items()}
    picks = [
        ("b", "dog", "pet"),
        ("a", "husky", "pet"),
        ("a", "pug", "pet"),
        ("a", "dog", "entity"),
        ("b", "husky", "animal"),
        ("a", "pug", "dog"),
        ("b", "pug", "entity"),
        ("a", "pug", "pet"),
        ("a", "wolf", "animal"),
        ("a", "pug", "pet"),
        ("a", "pug", "animal"),
    ]
    votes = [vote(a, w[c], w[label], minute=i) for i, (a, c, label) in enumerate(picks)]
    assert_each_step_as_fresh([(votes[:8], []), (votes, [])], make=two_paths)


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from(sorted(HIERARCHIES)).flatmap(
        lambda name: st.tuples(st.just(name), votes_on(HIERARCHIES[name]))
    ),
    st.sampled_from(["confidence", "none", "wawa"]),
    st.sampled_from(["votes", "other", "lift"]),
)
def test_any_sequence_of_votes_gives_what_a_fresh_aggregation_gives(
    named_batches, weighting, conflicts
):
    name, batches = named_batches
    votes, steps = [], []
    for batch in batches:  # each batch adds votes to the log, as votes arrive
        for annotator, wnid, label in batch:
            votes.append(vote(annotator, wnid, label, minute=len(votes)))
        steps.append((list(votes), []))
    assert_each_step_as_fresh(
        steps, make=HIERARCHIES[name], weighting=weighting, conflicts=conflicts
    )
