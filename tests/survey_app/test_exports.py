"""Votes in the database -> `flask export-*` -> validate -> `read_cil`, and the
`python -m clustering aggregate --db` route giving the same CIL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from clustering.cil import dumps_cil, read_cil
from clustering.cli import main
from clustering.hierarchy import Hierarchy
from clustering.validate import validate_file
from clustering.votes import LabelDecision, Vote, read_decisions, read_votes, votes_to_jsonl
from survey_app.aggregation import current_aggregation
from survey_app.extensions import db
from survey_app.models import Decision, User
from survey_app.models import LabelDecision as LabelDecisionRow
from survey_app.models import Vote as VoteRow
from survey_app.vote_log import database_votes

from .conftest import log_in, make_app, seeded

PUG, DALMATIAN, OSTRICH, BRAMBLING, CRANE_BIRD = (
    "n02110958",
    "n02110341",
    "n01518878",
    "n01530575",
    "n02012849",
)
DOG, BIRD, MAMMAL = "n02084071", "n01503061", "n01861778"
TROLLEYBUS, BUS = "n04487081", "n02924116"
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
    assert result.output == (
        f"Wrote 14 votes to {path} and 1 class decisions and 0 label decisions to {decisions}.\n"
    )
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


# --- the jay: one class's decision beside another class's votes ---------------------------
# Real ImageNet classes under "corvine bird" (verified against WordNet 3.0), beside
# classes under no bird: "bird" then holds 2 of the 9 classes, within the 25 % that
# `aggregate --conflicts lift` lets one label hold.
JAY, MAGPIE, CORVINE_BIRD = "n01580077", "n01582220", "n01578575"
CORVID_CLASSES = [
    *(JAY, MAGPIE, "n01440764", "n01443537", DALMATIAN, PUG),
    *("n04146614", "n04487081", "n03126707"),  # school bus, trolleybus, crane (machine)
]
POLICIES = ("votes", "other", "lift")


@pytest.fixture(scope="module")
def corvids(wordnet):
    return Hierarchy.from_wordnet(CORVID_CLASSES, wordnet)


@pytest.fixture
def corvid_app(tmp_path, corvids, database_url):
    """A survey of the corvids, on SQLite and on PostgreSQL, where the magpie's three
    annotators chose "corvine bird" and an admin settled the jay as "bird"."""
    app = seeded(make_app(tmp_path, database_url), corvids)
    with app.app_context():
        users = {name: User(username=name, role="annotator") for name in ("ann", "bob", "cat")}
        users["root"] = User(username="root", role="admin")
        db.session.add_all(users.values())
        db.session.flush()
        for minute, name in enumerate(("ann", "bob", "cat")):
            db.session.add(
                VoteRow(
                    annotator_id=users[name].id,
                    class_wnid=MAGPIE,
                    synset_wnid=CORVINE_BIRD,
                    created_at=START + timedelta(minutes=minute),
                )
            )
        settle(users["root"].id, JAY, BIRD, minute=5)
        db.session.commit()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def settle(admin_id: int, wnid: str, label: str, minute: int) -> None:
    db.session.add(
        Decision(
            admin_id=admin_id,
            class_wnid=wnid,
            synset_wnid=label,
            created_at=START + timedelta(minutes=minute),
        )
    )


def root_id(app) -> int:
    with app.app_context():
        return db.session.scalar(select(User.id).where(User.username == "root"))


def corvid_labels(text: str) -> dict[str, tuple[str, str, str | None]]:
    """class -> (label wnid, label name, reason) of a rich CIL's text, for the corvids."""
    classes = {c["wnid"]: c for c in json.loads(text)["classes"]}
    return {
        w: (classes[w]["label_wnid"], classes[w]["label_name"], classes[w].get("reason"))
        for w in (JAY, MAGPIE)
    }


def test_a_class_decided_as_bird_is_exported_as_bird(corvid_app, tmp_path, capsys):
    """The jay, settled as "bird", once moved down into the magpie's "corvine bird"
    (below bird on its chain). Every export, under every policy, keeps the decision:
    "corvine bird" is merged into "bird", and the magpie's reason says by whom."""
    admin = log_in(corvid_app.test_client(), root_id(corvid_app))
    url = corvid_app.config["SQLALCHEMY_DATABASE_URI"]
    for policy in POLICIES:
        exported = tmp_path / f"{policy}.json"
        result = corvid_app.test_cli_runner().invoke(
            args=["export-cil", str(exported), "--conflicts", policy]
        )
        assert result.exit_code == 0, result.output
        downloaded = admin.get(f"/admin/review/download/cil.json?conflicts={policy}")
        assert downloaded.status_code == 200, downloaded.text
        direct = tmp_path / f"direct-{policy}.json"
        assert main(["aggregate", "--db", url, "--out", str(direct), "--conflicts", policy]) == 0
        for text in (exported.read_text(), downloaded.text, direct.read_text()):
            labels = corvid_labels(text)
            assert labels[JAY][:2] == labels[MAGPIE][:2] == (BIRD, "bird"), (policy, labels)
            assert labels[JAY][2].startswith(f"settled as bird ({BIRD}) by root")
            assert (
                f"corvine bird ({CORVINE_BIRD}) is merged by the decision on jay ({JAY}) as "
                f"bird ({BIRD}) by root"
            ) in labels[MAGPIE][2]
    capsys.readouterr()


def test_decisions_that_cannot_both_hold_are_not_exported(corvid_app, tmp_path):
    """The magpie settled as "corvine bird" keeps the label that the jay's decision as
    "bird" merges: the export refuses and names both decisions and the label."""
    admin_id = root_id(corvid_app)
    with corvid_app.app_context():
        settle(admin_id, MAGPIE, CORVINE_BIRD, minute=1)
        db.session.commit()
    out = tmp_path / "cil.json"
    result = corvid_app.test_cli_runner().invoke(args=["export-cil", str(out)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "cannot hold as decided" in result.output
    assert f"the decision on magpie ({MAGPIE}) as corvine bird ({CORVINE_BIRD})" in result.output
    assert f"the decision on jay ({JAY}) as bird ({BIRD})" in result.output
    assert not out.exists()
    admin = log_in(corvid_app.test_client(), admin_id)
    assert admin.get("/admin/review/download/cil.json").status_code == 409


def test_export_votes_writes_label_decisions(corvid_app, tmp_path, corvids):
    admin_id = root_id(corvid_app)
    with corvid_app.app_context():
        db.session.add(
            LabelDecisionRow(
                admin_id=admin_id,
                general_wnid=BIRD,
                keep_json="[]",
                merge_json=json.dumps([CORVINE_BIRD]),
                name="bird",
                note="corvids are birds",
                created_at=START + timedelta(minutes=9),
            )
        )
        db.session.commit()
    votes, decisions = tmp_path / "votes.jsonl", tmp_path / "decisions.jsonl"
    result = corvid_app.test_cli_runner().invoke(
        args=["export-votes", str(votes), "--decisions", str(decisions)]
    )
    assert result.exit_code == 0, result.output
    assert "1 class decisions and 1 label decisions" in result.output
    assert read_decisions(decisions, corvids)[1] == LabelDecision(
        "root",
        BIRD,
        (),
        (CORVINE_BIRD,),
        (START + timedelta(minutes=9)).replace(tzinfo=UTC),
        "bird",
        "corvids are birds",
    )


def test_the_shell_export_decides_classes_by_the_queues_fewest_votes(voted, runner, tmp_path):
    # One vote on the trolleybus: with the survey's default (one vote at least) the queue
    # may close it, and the export counts it as decided, as the review's download does.
    with voted.app_context():
        cat = db.session.scalar(select(User.id).where(User.username == "cat"))
        db.session.add(VoteRow(annotator_id=cat, class_wnid=TROLLEYBUS, synset_wnid=BUS))
        db.session.commit()
    statuses = {}
    for extra in ([], ["--min-votes", "2"]):
        report = tmp_path / "report.json"
        result = runner.invoke(
            args=["export-cil", str(tmp_path / "cil.json"), "--report", str(report), *extra]
        )
        assert result.exit_code == 0, result.output
        statuses[len(extra)] = json.loads(report.read_text())["classes"][TROLLEYBUS]["status"]
    assert statuses == {0: "voted", 2: "undecided"}


def test_the_download_serialises_each_aggregation_once(voted, monkeypatch):
    """The CIL download keeps its bytes per aggregation (at ImageNet-21k's size the
    serialising took most of its time): asked again with no vote between, the same
    bytes without serialising anew; after a vote, the new CIL."""
    from survey_app import review

    serialised = []

    def counting(cil, flat=False):
        serialised.append(flat)
        return dumps_cil(cil, flat=flat)

    monkeypatch.setattr(review, "dumps_cil", counting)
    with voted.app_context():
        boss, bob = (
            db.session.scalars(select(User.id).filter_by(username=name)).one()
            for name in ("boss", "bob")
        )
    admin = log_in(voted.test_client(), boss)
    first = admin.get("/admin/review/download/cil.json")
    again = admin.get("/admin/review/download/cil.json")
    flat = admin.get("/admin/review/download/cil-flat.json")
    assert first.status_code == again.status_code == flat.status_code == 200
    assert first.data == again.data and flat.data != first.data
    assert serialised == [False, True]
    with voted.app_context():
        db.session.add(VoteRow(annotator_id=bob, class_wnid=OSTRICH, synset_wnid=BIRD))
        db.session.commit()
        current = dumps_cil(current_aggregation().cil)
    after = admin.get("/admin/review/download/cil.json")
    assert serialised == [False, True, False]
    assert after.data.decode() == current != first.data.decode()
