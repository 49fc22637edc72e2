"""Votes in the database -> `flask export-*` -> validate -> `read_cil`, and the
`python -m clustering aggregate --db` route giving the same CIL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from clustering.cil import read_cil
from clustering.cli import main
from clustering.validate import validate_file
from clustering.votes import Vote, read_decisions, read_votes, votes_to_jsonl
from survey_app.aggregation import current_aggregation, database_votes
from survey_app.extensions import db
from survey_app.models import Decision, User
from survey_app.models import Vote as VoteRow

from .conftest import make_app, seeded

PUG, DALMATIAN, OSTRICH, BRAMBLING, CRANE_BIRD = (
    "n02110958",
    "n02110341",
    "n01518878",
    "n01530575",
    "n02012849",
)
DOG, BIRD, MAMMAL = "n02084071", "n01503061", "n01861778"
START = datetime(2024, 5, 1, 12, 0)  # the database keeps naive UTC times

# (annotator, class, label) in the order they were cast
VOTES = [
    ("ann", PUG, PUG),
    ("ann", PUG, DOG),  # ann changed her mind: DOG counts
    ("bob", PUG, DOG),
    ("cat", PUG, PUG),
    ("ann", DALMATIAN, DOG),
    ("bob", DALMATIAN, DOG),
    ("cat", DALMATIAN, MAMMAL),
    ("ann", BRAMBLING, BIRD),
    ("bob", BRAMBLING, BIRD),
    ("ann", CRANE_BIRD, BIRD),
    ("bob", CRANE_BIRD, CRANE_BIRD),
    ("cat", CRANE_BIRD, BIRD),
    ("ann", OSTRICH, OSTRICH),
    ("bob", OSTRICH, OSTRICH),  # "ostrich" under "bird": a conflict
]


def fill(app) -> None:
    """Three annotators' votes, one with a comment, and an admin's decision."""
    with app.app_context():
        users = {name: User(username=name, role="annotator") for name in ("ann", "bob", "cat")}
        users["boss"] = User(username="boss", role="admin")
        db.session.add_all(users.values())
        db.session.flush()
        for minute, (name, wnid, label) in enumerate(VOTES):
            db.session.add(
                VoteRow(
                    annotator_id=users[name].id,
                    class_wnid=wnid,
                    synset_wnid=label,
                    created_at=START + timedelta(minutes=minute),
                    comment="a pug is a dog" if minute == 2 else None,
                )
            )
        db.session.add(
            Decision(
                admin_id=users["boss"].id,
                class_wnid="n01440764",
                synset_wnid="n02512053",
                created_at=START,
                note="fish",
            )
        )
        db.session.commit()


@pytest.fixture
def voted(app):
    fill(app)
    return app


def test_export_votes(voted, runner, tmp_path, small_hierarchy):
    path, decisions = tmp_path / "votes.jsonl", tmp_path / "decisions.jsonl"
    result = runner.invoke(args=["export-votes", str(path), "--decisions", str(decisions)])
    assert result.exit_code == 0, result.output
    assert result.output == f"Wrote 14 votes to {path} and 1 decisions to {decisions}.\n"
    votes = read_votes(path, small_hierarchy)
    assert [(v.annotator, v.wnid, v.label) for v in votes] == VOTES
    assert votes[2].comment == "a pug is a dog"
    assert json.loads(path.read_text().splitlines()[0])["time"] == "2024-05-01T12:00:00+00:00"
    assert read_decisions(decisions, small_hierarchy)[0].label == "n02512053"


def test_rows_become_votes_in_one_place(voted):
    with voted.app_context():
        votes = database_votes()
    assert votes[1] == Vote("ann", PUG, DOG, datetime(2024, 5, 1, 12, 1, tzinfo=UTC))
    assert votes_to_jsonl(votes).count("\n") == len(VOTES)


def test_export_cil_end_to_end(voted, runner, tmp_path, small_hierarchy):
    path, report = tmp_path / "cil.json", tmp_path / "report.json"
    result = runner.invoke(args=["export-cil", str(path), "--report", str(report)])
    assert result.exit_code == 0, result.output
    # bird above ostrich; the decided "fish" above the goldfish, which has no votes
    assert "2 conflict(s) resolved (votes)" in result.output
    assert validate_file(path, small_hierarchy).ok
    cil = read_cil(path)
    names = {c.wnid: cil.labels[c.label_index].name for c in cil.classes}
    assert names[PUG] == names[DALMATIAN] == "dog"
    assert names[OSTRICH] == "ostrich"
    assert names[BRAMBLING] == names[CRANE_BIRD] == "other bird"
    assert names["n01440764"] == "other fish"  # the admin's decision for the tench
    assert cil.provenance["votes"]["counted"] == 13
    assert json.loads(report.read_text())["classes"][PUG]["comments"] == ["a pug is a dog"]


def test_export_cil_flat_and_policies(voted, runner, tmp_path, small_hierarchy):
    flat = tmp_path / "flat.json"
    result = runner.invoke(
        args=["export-cil", str(flat), "--flat", "--conflicts", "lift", "--min-votes", "3"]
    )
    assert result.exit_code == 0, result.output
    mapping = json.loads(flat.read_text())
    assert mapping[PUG] == "dog" and mapping[CRANE_BIRD] == "bird"
    # Two votes are too few: the ostrich keeps its own label, which lifts into "bird".
    assert mapping[OSTRICH] == mapping[BRAMBLING] == "bird"
    assert validate_file(flat, small_hierarchy).ok
    refused = runner.invoke(args=["export-cil", str(tmp_path / "no.json"), "--conflicts", "refuse"])
    assert refused.exit_code == 1
    assert "bird (n01503061) is an ancestor of ostrich (n01518878)" in refused.output
    assert not (tmp_path / "no.json").exists()


def test_the_db_route_gives_the_same_cil(voted, runner, tmp_path, capsys):
    exported = tmp_path / "exported.json"
    assert runner.invoke(args=["export-cil", str(exported)]).exit_code == 0
    direct = tmp_path / "direct.json"
    url = voted.config["SQLALCHEMY_DATABASE_URI"]
    assert main(["aggregate", "--db", url, "--out", str(direct)]) == 0
    assert "from 13 counted votes of 3 annotator(s)" in capsys.readouterr().out
    assert read_cil(direct).labels == read_cil(exported).labels


def test_export_with_no_votes(app, runner, tmp_path):
    path = tmp_path / "votes.jsonl"
    assert runner.invoke(args=["export-votes", str(path)]).exit_code == 0
    assert path.read_text() == ""
    with app.app_context():
        assert current_aggregation().cil.num_labels == 10  # every class keeps its own label


def test_export_to_a_missing_folder(voted, runner, tmp_path):
    result = runner.invoke(args=["export-cil", str(tmp_path / "no" / "cil.json")])
    assert result.exit_code == 1 and "cannot write" in result.output


@pytest.mark.postgres
def test_the_db_route_on_postgres(tmp_path, small_hierarchy, postgres_url, capsys):
    app = seeded(make_app(tmp_path, postgres_url), small_hierarchy)
    fill(app)
    out = tmp_path / "cil.json"
    plain_url = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    assert main(["aggregate", "--db", plain_url, "--out", str(out)]) == 0
    assert validate_file(out, small_hierarchy).ok
    with app.app_context():
        assert read_cil(out).labels == current_aggregation().cil.labels
        db.session.remove()
        db.engine.dispose()
