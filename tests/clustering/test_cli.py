"""The command line: each strategy's own options, no silent collapse, no silent option; on
the toy hierarchy."""

from __future__ import annotations

import json

import pytest

from clustering.cil import read_cil
from clustering.cli import main
from clustering.votes import write_votes

from .toy_hierarchy import ANIMAL, DOG, ENTITY, HUSKY, PUG, TENCH
from .wnids import vote


@pytest.mark.parametrize(
    ("run", "refused"),
    [
        (["popularity", "--k", "7"], "unrecognized arguments: --k 7"),
        (["depth", "--provider", "google"], "unrecognized arguments: --provider google"),
        (["depth", "--counts", "counts.json"], "unrecognized arguments: --counts counts.json"),
    ],
)
def test_each_strategy_takes_only_its_own_options(
    run, refused, toy_hierarchy_file, tmp_path, capsys
):
    with pytest.raises(SystemExit) as caught:
        main(
            [
                "strategy",
                *run,
                "--hierarchy",
                toy_hierarchy_file,
                "--out",
                str(tmp_path / "cil.json"),
            ]
        )
    assert caught.value.code == 2
    assert refused in capsys.readouterr().err


def test_a_strategy_must_be_named(capsys):
    with pytest.raises(SystemExit):
        main(["strategy"])
    assert "the following arguments are required: strategy" in capsys.readouterr().err


def test_popularity_takes_a_provider_or_a_counts_file(toy_hierarchy_file, tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(
            [
                "strategy",
                "popularity",
                "--provider",
                "wordfreq",
                "--counts",
                "c.json",
                "--hierarchy",
                toy_hierarchy_file,
                "--out",
                str(tmp_path / "cil.json"),
            ]
        )
    assert "not allowed with argument" in capsys.readouterr().err


def test_strategy_lift_refuses_a_collapse(toy_hierarchy_file, tmp_path, capsys):
    """`strategy depth --k 2 --conflicts lift` on the toy tree: the car, two levels below
    the root, goes to "entity", the others to "animal" or "vehicle", and lifting those
    into "entity" puts all 8 classes under it."""
    out = tmp_path / "depth2.json"
    run = [
        "strategy",
        "depth",
        "--k",
        "2",
        "--conflicts",
        "lift",
        "--hierarchy",
        toy_hierarchy_file,
        "--out",
        str(out),
    ]
    assert main(run) == 1
    err = capsys.readouterr().err
    assert f"lift would put 8 of the 8 classes (100 %) under entity ({ENTITY})" in err
    assert not out.exists()
    assert main([*run, "--allow-collapse"]) == 0
    printed = capsys.readouterr().out
    assert "1 labels for 8 classes (depth, k=2)" in printed
    assert "2 conflict(s) resolved (lift), 2 label(s) lifted into 1" in printed
    assert [label.name for label in read_cil(out).labels] == ["entity"]


def test_collapse_options_need_lift(toy_hierarchy_file, tmp_path, capsys):
    assert (
        main(
            [
                "strategy",
                "depth",
                "--allow-collapse",
                "--hierarchy",
                toy_hierarchy_file,
                "--out",
                str(tmp_path / "cil.json"),
            ]
        )
        == 2
    )
    assert "--allow-collapse and --max-share are for --conflicts lift" in capsys.readouterr().err


def test_aggregate_lift_refuses_a_collapse(toy_hierarchy_file, tmp_path, capsys):
    votes = tmp_path / "votes.jsonl"
    write_votes([vote("a", PUG, ANIMAL), vote("b", PUG, ANIMAL)], votes)
    out = tmp_path / "cil.json"
    run = [
        "aggregate",
        "--votes",
        str(votes),
        "--hierarchy",
        toy_hierarchy_file,
        "--out",
        str(out),
        "--conflicts",
        "lift",
    ]
    assert main(run) == 1
    assert "lift would put 5 of the 8 classes (62.5 %) under animal" in capsys.readouterr().err
    assert main([*run, "--max-share", "0.8"]) == 0
    assert json.loads(out.read_text())["provenance"]["max_share"] == 0.8
    assert main([*run, "--allow-collapse"]) == 0
    assert json.loads(out.read_text())["provenance"]["max_share"] is None


def test_aggregate_warns_when_min_votes_is_above_the_votes(toy_hierarchy_file, tmp_path, capsys):
    votes = tmp_path / "votes.jsonl"
    write_votes(
        [
            vote(name, wnid, label)
            for name in "abc"
            for wnid, label in ((PUG, DOG), (HUSKY, DOG), (TENCH, TENCH))
        ],
        votes,
    )
    assert (
        main(
            [
                "aggregate",
                "--votes",
                str(votes),
                "--hierarchy",
                toy_hierarchy_file,
                "--out",
                str(tmp_path / "cil.json"),
                "--min-votes",
                "4",
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    assert captured.err == (
        "warning: 3 of the 3 classes with votes have fewer than the 4 votes a class needs (the "
        "most a class has: 3), so they keep their own label\n"
    )
    assert "8 undecided" in captured.out
