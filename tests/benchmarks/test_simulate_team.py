"""The team simulation's smoke run: three simulated annotators on the small hierarchy,
through the survey's real queue, vote path and export, each class's truth its parent."""

from __future__ import annotations

import json
import random

import pytest

from benchmarks import simulate_team as sim
from clustering.human_labels import read_human_labels
from survey_app import work_queue

FIXED_3 = sim.QueueSetting(3, 3, 0.85, hide_first=True)
ADAPTIVE = sim.QueueSetting(2, 5, 0.85, hide_first=True)


@pytest.fixture(scope="module")
def template(small_hierarchy, tmp_path_factory):
    return sim.seeded_template(small_hierarchy, tmp_path_factory.mktemp("team-template"))


@pytest.fixture(scope="module")
def truth(small_hierarchy) -> dict[str, str]:
    """Every class's parent: a label above the class, as most published labels are."""
    return {c.wnid: small_hierarchy.chain_wnids(c.wnid)[-2] for c in small_hierarchy.classes}


def team(mix: str = "none", accept: float = 0.0, seed: int = 0) -> list[sim.Member]:
    return sim.make_team(sim.MIXES[mix], 3, accept, seed)


@pytest.fixture
def run(template, small_hierarchy, truth, tmp_path):
    def run_setting(setting, members, **options):
        return sim.run_once(template, tmp_path, small_hierarchy, truth, setting, members, **options)

    return run_setting


def test_on_agreeing_annotators_the_adaptive_queue_closes_classes_below_fixed_3s_cost(run):
    fixed = run(FIXED_3, team())
    adaptive = run(ADAPTIVE, team())
    # Three annotators, each voting once per class: fixed 3 takes every vote there is.
    assert fixed.votes == 3 * fixed.classes
    # Two agreeing votes reach the target: the third annotator is not needed everywhere.
    assert 2 * adaptive.classes <= adaptive.votes < fixed.votes
    assert adaptive.aggregated == fixed.aggregated == adaptive.classes
    assert adaptive.single == fixed.single == 0  # two votes at least


def test_a_closed_class_is_never_served_again(run):
    # Fixed 2 votes with three annotators: the third must never see a class.
    result = run(sim.QueueSetting(2, 2, 0.85, hide_first=True), team("high", accept=0.3))
    assert (result.served_closed, result.served_again) == ((), ())
    assert result.votes == 2 * result.classes


def test_the_simulation_notices_a_queue_that_serves_closed_or_voted_classes(
    run, small_hierarchy, monkeypatch
):
    # A broken queue that serves the first class forever: the check must say so (four
    # votes from three members: one of them is served it twice).
    first = small_hierarchy.classes[0].wnid
    monkeypatch.setattr(work_queue, "next_class", lambda user_id, settings=None: first)
    result = run(sim.QueueSetting(1, 1, 0.85, hide_first=False), team(), budget=4)
    assert result.served_closed and set(result.served_closed) == {first}
    assert result.served_again


def test_the_shown_suggestion_is_taken_with_the_members_chance():
    chain, truth, shown = ["a", "b", "c", "d"], "c", "b"
    member = sim.Member(sim.Annotator("sim-0", 0.0), accept=0.5, pace=1.0)
    rng = random.Random(0)
    votes = [sim.choose_label(member, chain, truth, shown, rng) for _ in range(2000)]
    assert set(votes) == {truth, shown}
    assert 0.45 < votes.count(shown) / len(votes) < 0.55
    # Not shown: nothing to take, so a noise-free member always votes the truth.
    assert {sim.choose_label(member, chain, truth, None, rng) for _ in range(200)} == {truth}


def test_the_table_has_a_row_per_setting_and_the_saving_against_fixed_3(run):
    results = [run(FIXED_3, team()), run(ADAPTIVE, team())]
    lines = sim.markdown_table(results).splitlines()
    assert lines[0].startswith("| mix | setting |") and len(lines) == 4
    fixed_row, adaptive_row = (line.split(" | ") for line in lines[2:])
    assert fixed_row[1] == "fixed 3" and fixed_row[5] == "0 %"
    saved = 1 - results[1].votes / results[0].votes
    assert adaptive_row[1] == "adaptive 2-5 @ 0.85" and adaptive_row[5] == f"{100 * saved:.0f} %"
    assert adaptive_row[4] == str(results[1].votes)


def test_the_command_prints_the_table(small_hierarchy, truth, template, tmp_path, capsys):
    hierarchy_file = tmp_path / "small.json"
    small_hierarchy.save(hierarchy_file)
    truth_file = tmp_path / "truth.json"  # a flat CIL: class wnid -> label name
    truth_file.write_text(json.dumps({c: small_hierarchy.label(w) for c, w in truth.items()}))
    assert read_human_labels(truth_file, small_hierarchy).labels == truth
    argv = ["--hierarchy", str(hierarchy_file), "--truth", str(truth_file), "--seeds", "0"]
    argv += ["--targets", "0.9", "--annotators", "3", "--template-folder", str(template.parent)]
    assert sim.main([*argv, "--prior", "shipped"]) == 0
    printed = capsys.readouterr().out
    assert "prior: the shipped model" in printed
    assert "| none |" not in printed  # the default mix is the default one
    rows = [line for line in printed.splitlines() if line.startswith("| default |")]
    runs = [row for row in rows if len(row.split(" | ")) == len(sim.TABLE_HEADER)]
    assert [row.split(" | ")[1] for row in runs] == ["fixed 3", "adaptive 2-5 @ 0.9"]
    # The estimates: a row per setting and member.
    estimates = [row.split(" | ") for row in rows if row not in runs]
    assert [(row[1], row[2]) for row in estimates] == [
        (setting, f"sim-{i}") for setting in ("fixed 3", "adaptive 2-5 @ 0.9") for i in range(3)
    ]
    assert "the queue served no closed or already voted class" in printed
    # Cross-fitting needs labels enough for the model's folds inside each training part:
    # seven labels in halves of three or four are too few, and the command says so.
    assert sim.main(argv) == 1
    assert "cannot cross-fit the prior on this truth" in capsys.readouterr().err


def test_the_command_cross_fits_the_prior_by_default(small_hierarchy, template, tmp_path, capsys):
    hierarchy_file = tmp_path / "small.json"
    small_hierarchy.save(hierarchy_file)
    truth_file = tmp_path / "truth.json"  # each class its own label: ten label groups
    own = {c.wnid: small_hierarchy.label(c.wnid) for c in small_hierarchy.classes}
    truth_file.write_text(json.dumps(own))
    assert len(read_human_labels(truth_file, small_hierarchy).labels) == 10
    argv = ["--hierarchy", str(hierarchy_file), "--truth", str(truth_file), "--seeds", "0"]
    argv += ["--targets", "0.9", "--annotators", "3", "--template-folder", str(template.parent)]
    assert sim.main(argv) == 0
    printed = capsys.readouterr().out
    assert "prior: cross-fitted, 2 grouped folds" in printed
    assert "the shipped model's: suggestion = truth on" in printed


def prior_on(hierarchy, position: int) -> dict[str, dict[str, float]]:
    """Every class's prior all on one candidate of its chain (-2: its parent, 0: the root)."""
    priors = {}
    for image_class in hierarchy.classes:
        chain = hierarchy.chain_wnids(image_class.wnid)
        priors[image_class.wnid] = {w: float(w == chain[position]) for w in chain}
    return priors


def test_the_prior_handed_to_a_run_is_the_one_the_survey_suggests_and_exports_by(
    run, small_hierarchy
):
    # One vote per class, shown the suggestion, by members who always take it: the export
    # can only be what the prior handed to the run suggests.
    setting = sim.QueueSetting(1, 1, 0.85, hide_first=False)
    towards_truth = run(setting, team(accept=1.0), priors=prior_on(small_hierarchy, -2))
    assert towards_truth.aggregated == towards_truth.classes
    towards_root = run(setting, team(accept=1.0), priors=prior_on(small_hierarchy, 0))
    assert towards_root.aggregated == 0
    # One vote each: every class closed at its first vote, right exactly as often.
    assert towards_truth.single == towards_truth.single_right == towards_truth.classes
    assert (towards_root.single, towards_root.single_right) == (towards_root.classes, 0)
    assert (towards_truth.prior, towards_root.prior) == ("cross-fitted", "cross-fitted")
    shipped = run(setting, team(accept=1.0))
    assert shipped.prior == "shipped" and 0 < shipped.aggregated < shipped.classes


def test_each_members_estimates_stand_beside_their_planted_skills(run):
    result = run(ADAPTIVE, team("high", accept=0.3))
    members = team("high", accept=0.3)
    assert [e.name for e in result.estimates] == [m.name for m in members]
    for estimate, member in zip(result.estimates, members, strict=True):
        assert estimate.planted == pytest.approx(1 - member.annotator.noise)
        assert estimate.accept == 0.3 and 0 <= estimate.truth_share <= 1
        assert 0 < estimate.reliability < 1 and 0 <= estimate.anchoring <= 1
    # Every vote is on a scored class here: the members' votes are the run's.
    assert sum(e.votes for e in result.estimates) == result.votes


def test_help_explains_the_options(capsys):
    with pytest.raises(SystemExit) as exit_info:
        sim.parse_args(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--accept", "--targets", "--mixes", "--seeds", "--hide-first", "--budget"):
        assert option in text


def test_several_minimum_and_maximum_pairs_are_compared_in_one_run():
    args = sim.parse_args(["--adaptive", "1", "5", "--adaptive", "2", "4", "--targets", "0.8"])
    settings = sim.compared_settings(args.targets, (True,), args.adaptive)
    assert [s.name for s in settings] == ["fixed 3", "adaptive 1-5 @ 0.8", "adaptive 2-4 @ 0.8"]
    default = sim.parse_args([])
    assert default.adaptive == [sim.ADAPTIVE_VOTES]
    with pytest.raises(SystemExit):
        sim.parse_args(["--adaptive", "3", "2"])


def test_a_priors_fit_to_the_truth_is_its_suggestions_and_the_truths_probability():
    priors = {"c1": {"a": 0.7, "b": 0.3}, "c2": {"a": 0.4, "b": 0.6}}
    assert sim.prior_fit(priors, {"c1": "a", "c2": "a"}) == (
        "suggestion = truth on 50.0 %, mean P(truth) 0.550"
    )
