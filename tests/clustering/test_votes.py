"""The votes JSON lines: round trips, the latest vote, and every bad line named; on the
toy hierarchy."""

from __future__ import annotations

import io
import json
import pickle
from datetime import UTC, datetime, timedelta, timezone

import pytest

from clustering.votes import (
    LabelDecision,
    Vote,
    VotesError,
    check_labels,
    latest_decisions,
    latest_votes,
    parse_time,
    read_decisions,
    read_votes,
    write_decisions,
    write_votes,
)

from .toy_hierarchy import (
    ANIMAL,
    BUS,
    DOG,
    FISH,
    HUSKY,
    PUG,
    TENCH,
    VEHICLE,
    toy_hierarchy,
)
from .wnids import START, decision, vote


def test_round_trip(tmp_path):
    votes = [vote("ann", PUG, DOG, 0, comment="a dog to anyone"), vote("bob", TENCH, FISH, 1)]
    path = tmp_path / "votes.jsonl"
    write_votes(votes, path)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines[0] == {
        "annotator": "ann",
        "wnid": PUG,
        "label": DOG,
        "time": "2024-05-01T12:00:00+00:00",
        "comment": "a dog to anyone",
    }
    assert "comment" not in lines[1]
    assert read_votes(path, toy_hierarchy()) == votes


def test_decisions_round_trip(tmp_path):
    decisions = [decision(PUG, DOG, 3)]
    path = tmp_path / "decisions.jsonl"
    write_decisions(decisions, path)
    assert json.loads(path.read_text())["admin"] == "admin"
    assert read_decisions(path, toy_hierarchy()) == decisions


def test_times_are_utc():
    assert parse_time("2024-05-01T14:00:00+02:00") == datetime(2024, 5, 1, 12, tzinfo=UTC)
    assert parse_time("2024-05-01T12:00:00Z") == datetime(2024, 5, 1, 12, tzinfo=UTC)
    assert parse_time("2024-05-01 12:00:00") == datetime(2024, 5, 1, 12, tzinfo=UTC)


def test_every_malformed_line_is_named(tmp_path):
    good = {"annotator": "ann", "wnid": PUG, "label": DOG, "time": "2024-05-01T12:00:00Z"}
    lines = [
        json.dumps(good),
        "{broken",
        json.dumps([1, 2]),
        json.dumps({**good, "annotator": ""}),
        "",  # blank lines are allowed
        json.dumps({**good, "time": "yesterday"}),
        json.dumps({**good, "comment": 5}),
        json.dumps({**good, "colour": "red"}),
        json.dumps({k: v for k, v in good.items() if k != "label"}),
    ]
    path = tmp_path / "votes.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(VotesError) as caught:
        read_votes(path)
    problems = caught.value.problems
    assert [p.split(":")[0] for p in problems] == [
        "line 2",
        "line 3",
        "line 4",
        "line 6",
        "line 7",
        "line 8",
        "line 9",
    ]
    assert "not JSON" in problems[0]
    assert "'annotator' must be a non-empty string" in problems[2]
    assert "not ISO 8601" in problems[3]
    assert "unknown key(s) 'colour'" in problems[5]
    assert "'label' must be a non-empty string" in problems[6]
    assert str(path) in str(caught.value)


def test_votes_off_the_chain_or_for_unknown_classes_are_refused(tmp_path):
    path = tmp_path / "votes.jsonl"
    write_votes(
        [
            vote("ann", PUG, DOG),
            vote("ann", PUG, BUS, 1),
            vote("bob", "n09999999", DOG),
            vote("cat", TENCH, "n00000007"),
        ],
        path,
    )
    with pytest.raises(VotesError) as caught:
        read_votes(path, toy_hierarchy())
    assert caught.value.problems == [
        (
            f"line 2: label {BUS} (bus) is not on the chain of class {PUG} (pug); choose one "
            "of its ancestors or the class itself"
        ),
        "line 3: n09999999 is not one of the hierarchy's 8 classes",
        (
            f"line 4: label n00000007 is not on the chain of class {TENCH} (tench); choose one "
            "of its ancestors or the class itself"
        ),
    ]


def test_check_labels_names_items_by_position():
    with pytest.raises(VotesError, match=f"item 2: label {BUS}"):
        check_labels(toy_hierarchy(), [vote("ann", PUG, DOG), vote("ann", PUG, BUS)])


def test_missing_file(tmp_path):
    with pytest.raises(VotesError, match="does not exist"):
        read_votes(tmp_path / "none.jsonl")


def test_the_latest_vote_counts():
    votes = [
        vote("ann", PUG, DOG, 5),
        vote("ann", PUG, PUG, 1),
        vote("bob", PUG, PUG, 2),
        vote("bob", PUG, DOG, 2),
    ]  # same time: the later line wins
    assert latest_votes(votes) == [vote("ann", PUG, DOG, 5), vote("bob", PUG, DOG, 2)]


def test_the_latest_decision_counts():
    decisions = [decision(PUG, DOG, 4), decision(PUG, PUG, 2), decision(TENCH, FISH, 1)]
    assert latest_decisions(decisions) == {
        PUG: decision(PUG, DOG, 4),
        TENCH: decision(TENCH, FISH, 1),
    }


# --- label decisions in a decisions file ----------------------------------------------------
def test_label_decisions_round_trip_beside_class_decisions(tmp_path):
    both = [
        decision(PUG, DOG, 1),
        LabelDecision(
            "root", ANIMAL, (FISH,), (DOG,), START + timedelta(minutes=2), "animal", "dogs merge"
        ),
        LabelDecision("root", DOG, (), (HUSKY,), START + timedelta(minutes=3)),
    ]
    path = tmp_path / "decisions.jsonl"
    write_decisions(both, path)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines[1] == {
        "admin": "root",
        "general": ANIMAL,
        "keep": [FISH],
        "merge": [DOG],
        "name": "animal",
        "note": "dogs merge",
        "time": "2024-05-01T12:02:00+00:00",
    }
    assert "name" not in lines[2] and "note" not in lines[2]
    assert read_decisions(path, toy_hierarchy()) == both


LABEL_DECISION = {
    "admin": "root",
    "general": ANIMAL,
    "keep": [FISH],
    "merge": [DOG],
    "time": "2024-05-01T12:00:00Z",
}


def test_every_malformed_label_decision_line_is_named(tmp_path):
    """A label decision in a shape nobody wrote refuses the file whole: each line and
    field is named, so an aggregate never runs on half of an admin's decisions."""
    lines = [
        json.dumps(LABEL_DECISION),
        json.dumps({**LABEL_DECISION, "keep": FISH}),  # a string, not a list
        json.dumps({**LABEL_DECISION, "merge": [DOG, 7]}),
        json.dumps({**LABEL_DECISION, "kept": [FISH]}),
        json.dumps({"admin": "root", "label": DOG, "time": "2024-05-01T12:00:00Z"}),
        json.dumps({**LABEL_DECISION, "general": ""}),
        json.dumps({**LABEL_DECISION, "name": ["animal"]}),
        json.dumps({**LABEL_DECISION, "time": "soon"}),
        json.dumps({**LABEL_DECISION, "wnid": PUG}),  # both shapes at once
    ]
    path = tmp_path / "decisions.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(VotesError) as caught:
        read_decisions(path, toy_hierarchy())
    assert caught.value.problems == [
        "line 2: 'keep' must be a list of synset wnids",
        "line 3: 'merge' must be a list of synset wnids",
        "line 4: unknown key(s) 'kept'",
        (
            "line 5: neither a class decision (with 'wnid' and 'label') nor a label decision "
            "(with 'general', 'keep' and 'merge')"
        ),
        "line 6: 'general' must be a non-empty string",
        "line 7: 'name' must be a string when present",
        "line 8: time 'soon' is not ISO 8601 (like 2024-05-01T12:00:00+00:00)",
        "line 9: unknown key(s) 'wnid'",
    ]


def test_label_decisions_off_the_hierarchy_are_named_with_their_lines(tmp_path):
    lines = [
        json.dumps(LABEL_DECISION),
        json.dumps({**LABEL_DECISION, "keep": [BUS]}),  # a bus is no animal
        json.dumps({**LABEL_DECISION, "name": "beast"}),
        json.dumps({**LABEL_DECISION, "general": "n09999999"}),
        json.dumps({**LABEL_DECISION, "keep": [], "merge": []}),
        json.dumps({"admin": "root", "wnid": PUG, "label": VEHICLE, "time": "2024-05-01"}),
    ]
    path = tmp_path / "decisions.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(VotesError) as caught:
        read_decisions(path, toy_hierarchy())
    problems = caught.value.problems
    assert [p.split(":")[0] for p in problems] == ["line 2", "line 3", "line 4", "line 5", "line 6"]
    assert f"keep: {BUS} (bus) is not below the general label {ANIMAL} (animal)" in problems[0]
    assert "name: 'beast' is not a lemma of" in problems[1] and "'animal'" in problems[1]
    assert "general: n09999999 is not a synset" in problems[2]
    assert "'keep' and 'merge' are both empty" in problems[3]
    assert f"label {VEHICLE} (vehicle) is not on the chain of class {PUG}" in problems[4]


def test_votes_pickle_back_equal_to_the_microsecond_in_their_time_zone():
    moment = datetime(2024, 5, 2, 13, 4, 5, 123456, tzinfo=UTC)
    votes = [
        Vote("ann", "n02110341", "n02084071", moment, "a note", "n02084071"),
        Vote("ann", "n02110341", "n02084071", moment - timedelta(days=20000, microseconds=1)),
        Vote("bob", "n02110341", "n02084071", moment.astimezone(timezone(timedelta(hours=2)))),
    ]
    back = pickle.loads(pickle.dumps(votes, protocol=pickle.HIGHEST_PROTOCOL))
    assert back == votes
    assert [v.time.isoformat() for v in back] == [v.time.isoformat() for v in votes]


def test_a_pickled_vote_is_two_objects_for_the_pickler_to_remember():
    """The aggregation store pickles every counted vote: the pickler's memo of every
    object written was most of its memory at ImageNet-21k's size."""
    start = datetime(2024, 5, 2, tzinfo=UTC)
    names, wnids = ["ann", "bob"], ["n02110341", "n02084071"]
    votes = [
        Vote(names[i % 2], wnids[0], wnids[1], start + timedelta(seconds=i)) for i in range(1000)
    ]
    pickler = pickle.Pickler(io.BytesIO(), protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dump(votes)
    assert len(pickler.memo.copy()) <= 2 * len(votes) + 10
