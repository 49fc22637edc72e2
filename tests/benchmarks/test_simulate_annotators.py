"""The simulated-annotators benchmark on the hand-made hierarchy of
`tests/clustering/toy_hierarchy.py`: its votes, its scores and its table."""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import datetime

import pytest

from benchmarks import simulate_annotators as sim
from clustering.votes import Vote
from tests.clustering.toy_hierarchy import (
    ANIMAL,
    BASIC_LABELS,
    CLASSES,
    DOG,
    ENTITY,
    GOLDFISH,
    HUSKY,
    MALAMUTE,
    NAMES,
    PUG,
    TENCH,
    toy_hierarchy,
)

EXPORTED = ("votes", "other", "lift")  # the policies that export something


@pytest.fixture(scope="module")
def hierarchy():
    return toy_hierarchy()


@pytest.fixture
def hierarchy_file(hierarchy, tmp_path) -> str:
    path = tmp_path / "toy.json"
    hierarchy.save(path)
    return str(path)


@pytest.fixture
def truth_file(tmp_path) -> str:
    """The basic labels as a flat CIL (class wnid -> label name)."""
    path = tmp_path / "truth.json"
    path.write_text(json.dumps({c: NAMES[label] for c, label in BASIC_LABELS.items()}))
    return str(path)


def noiseless(count: int = 6) -> list[sim.Annotator]:
    return sim.mix_annotators(sim.MIXES["none"], count)


def always_wrong(count: int = 6) -> list[sim.Annotator]:
    return sim.mix_annotators((1.0, 1.0), count)


def test_a_mix_spreads_the_noise_rates_evenly_over_its_range():
    rates = [a.noise for a in sim.mix_annotators(sim.MIXES["default"], 6)]
    assert rates == pytest.approx([0.10, 0.15, 0.20, 0.25, 0.30, 0.35])
    assert len({a.name for a in sim.mix_annotators(sim.MIXES["default"], 6)}) == 6


def test_without_noise_the_majority_and_every_policy_agree_with_the_truth(hierarchy):
    votes = sim.simulate_votes(hierarchy, BASIC_LABELS, noiseless(), 3, seed=0)
    assert {v.label for v in votes if v.wnid == PUG} == {DOG}
    score = sim.score_run(hierarchy, BASIC_LABELS, votes, EXPORTED)
    assert (score.classes, score.majority) == (8, 8)
    assert {p: e.agreed for p, e in score.exports.items()} == dict.fromkeys(EXPORTED, 8)
    assert {p: e.labels for p, e in score.exports.items()} == dict.fromkeys(EXPORTED, 4)
    assert all(score.gap(p) == 0 for p in EXPORTED)


def test_the_score_counts_each_export_against_the_truth_not_against_the_majority(hierarchy):
    # Truth: every animal is "animal". The pug's three votes say "dog": the majority
    # misses the pug; `other` keeps "dog" and carries the husky and the malamute down
    # into it; `votes` and `lift` merge "dog" back, which puts the pug right too.
    truth = {**BASIC_LABELS, TENCH: ANIMAL, GOLDFISH: ANIMAL, HUSKY: ANIMAL, MALAMUTE: ANIMAL}
    truth[PUG] = ANIMAL
    voted = {**truth, PUG: DOG}
    moment = datetime.fromisoformat("2026-12-06T00:00:00+00:00")
    votes = [Vote(f"a{i}", c, label, moment) for c, label in voted.items() for i in range(3)]
    score = sim.score_run(hierarchy, truth, votes, EXPORTED, "hand-made", 7)
    assert score.majority == 7
    assert {p: e.agreed for p, e in score.exports.items()} == {"votes": 8, "other": 5, "lift": 8}
    assert {p: e.labels for p, e in score.exports.items()} == {"votes": 3, "other": 4, "lift": 3}
    assert score.gap("other") == pytest.approx(-25.0)
    assert score.gap("votes") == pytest.approx(12.5)


def test_noisy_votes_name_only_synsets_of_the_class_chain(hierarchy):
    votes = []
    for seed in range(20):
        votes += sim.simulate_votes(hierarchy, BASIC_LABELS, always_wrong(), 3, seed)
    for vote in votes:
        assert vote.label in hierarchy.chain_wnids(vote.wnid)
        assert vote.label != BASIC_LABELS[vote.wnid]
        assert vote.time.tzinfo is not None
    # Every synset of the pug's chain but the truth is named at some point.
    assert {v.label for v in votes if v.wnid == PUG} == {ENTITY, ANIMAL, PUG}


def test_each_class_gets_its_votes_from_distinct_annotators(hierarchy):
    votes = sim.simulate_votes(hierarchy, BASIC_LABELS, always_wrong(), 3, seed=1)
    voters: dict[str, list[str]] = {}
    for vote in votes:
        voters.setdefault(vote.wnid, []).append(vote.annotator)
    assert sorted(voters) == sorted(CLASSES)
    assert all(len(names) == len(set(names)) == 3 for names in voters.values())
    assert len({v.annotator for v in votes}) > 3  # drawn at random, not the first three
    assert len({v.time for v in votes}) == len(votes)


def test_votes_per_class_beyond_the_annotators_is_refused(hierarchy):
    with pytest.raises(ValueError, match="between 1 and the 2 annotators"):
        sim.simulate_votes(hierarchy, BASIC_LABELS, noiseless(2), 3, seed=0)


def test_errors_fall_mostly_one_step_from_the_truth(hierarchy):
    """The shares of the error model on the husky's chain (entity, animal, dog, husky):
    "anywhere" spreads its share over the three synsets other than the truth."""
    chain = hierarchy.chain_wnids(HUSKY)
    rng = random.Random(0)
    draws = 20_000
    named = Counter(sim.wrong_label(chain, HUSKY, rng) for _ in range(draws))
    anywhere = sim.ANYWHERE_SHARE / 3
    assert named[DOG] / draws == pytest.approx(sim.ONE_STEP_SHARE + anywhere, abs=0.015)
    assert named[ANIMAL] / draws == pytest.approx(sim.TWO_STEPS_SHARE + anywhere, abs=0.015)
    assert named[ENTITY] / draws == pytest.approx(anywhere, abs=0.01)
    assert HUSKY not in named
    # From "dog", one step goes up or down the chain alike; two steps only up.
    named = Counter(sim.wrong_label(chain, DOG, rng) for _ in range(draws))
    one_step = sim.ONE_STEP_SHARE / 2 + anywhere
    assert named[ANIMAL] / draws == pytest.approx(one_step, abs=0.015)
    assert named[HUSKY] / draws == pytest.approx(one_step, abs=0.015)
    assert named[ENTITY] / draws == pytest.approx(sim.TWO_STEPS_SHARE + anywhere, abs=0.015)


def test_the_same_seed_gives_the_same_votes(hierarchy):
    annotators = sim.mix_annotators(sim.MIXES["high"], 6)
    first = sim.simulate_votes(hierarchy, BASIC_LABELS, annotators, 3, seed=3)
    again = sim.simulate_votes(hierarchy, BASIC_LABELS, annotators, 3, seed=3)
    other = sim.simulate_votes(hierarchy, BASIC_LABELS, annotators, 3, seed=4)
    assert first == again
    assert [(v.annotator, v.label) for v in first] != [(v.annotator, v.label) for v in other]


def table_rows(output: str) -> list[list[str]]:
    """The markdown table's cells, header first, without the separator line."""
    lines = [line for line in output.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]


def test_the_table_has_a_row_per_mix_and_seed(hierarchy_file, truth_file, capsys):
    argv = ["--hierarchy", hierarchy_file, "--truth", truth_file]
    assert sim.main([*argv, "--mixes", "none", "high", "--seeds", "0", "5"]) == 0
    output = capsys.readouterr().out
    header, *rows = table_rows(output)
    per_policy = [cell for p in EXPORTED for cell in (p, "gap", "labels")]
    assert header == ["mix", "seed", "majority", *per_policy]
    assert [(row[0], row[1]) for row in rows] == [
        ("none", "0"),
        ("none", "5"),
        ("high", "0"),
        ("high", "5"),
    ]
    noiseless_cells = ["100.0 %"] + ["100.0 %", "+0.0", "4"] * 3
    assert rows[0][2:] == rows[1][2:] == noiseless_cells
    assert rows[2][2:] != noiseless_cells  # noise shows
    summary = [line for line in output.splitlines() if line.startswith("largest gap")]
    assert [line.split(":")[0] for line in summary] == [
        f"largest gap to the majority, {p}" for p in EXPORTED
    ]


def test_policies_the_code_lacks_are_skipped_and_said(
    hierarchy_file, truth_file, capsys, monkeypatch
):
    monkeypatch.setattr(sim, "POLICIES", ("lift", "other", "refuse"))  # the code before `votes`
    argv = ["--hierarchy", hierarchy_file, "--truth", truth_file, "--mixes", "low"]
    assert sim.main([*argv, "--seeds", "0"]) == 0
    output = capsys.readouterr().out
    assert "skipped: this code has no conflict policy votes" in output
    header, *rows = table_rows(output)
    assert header == ["mix", "seed", "majority", "other", "gap", "labels", "lift", "gap", "labels"]
    assert len(rows) == 1
