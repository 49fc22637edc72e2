"""The admin's review pages: who may see them, the queue and its decisions, downloads."""

from __future__ import annotations

import gzip
import json
import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from clustering.cil import cil_from_json
from clustering.validate import validate_cil
from survey_app import aggregation, disagreements, images, label_decisions, review
from survey_app.extensions import db
from survey_app.models import Decision, LabelDecision, User, Vote

from .conftest import add_user, csrf_token, log_in, make_app, make_image_folder, seeded

PUG, DALMATIAN, OSTRICH, BRAMBLING = "n02110958", "n02110341", "n01518878", "n01530575"
DOG, BIRD, MAMMAL, BUS = "n02084071", "n01503061", "n01861778", "n02924116"
PAGES = [
    "/admin/review/",
    "/admin/review/classes",
    "/admin/review/queue",
    "/admin/review/overview",
    "/admin/review/download/cil.json",
    "/admin/review/download/cil-flat.json",
    "/admin/review/download/votes.jsonl",
]


def add_votes(app, votes, start=datetime(2024, 5, 2)):
    """(annotator, class, label, comment) rows, a minute apart from `start`."""
    with app.app_context():
        users = {u.username: u.id for u in db.session.scalars(select(User))}
        for minute, (name, wnid, label, comment) in enumerate(votes):
            if name not in users:
                user = User(username=name)
                db.session.add(user)
                db.session.flush()
                users[name] = user.id
            db.session.add(
                Vote(
                    annotator_id=users[name],
                    class_wnid=wnid,
                    synset_wnid=label,
                    comment=comment,
                    created_at=start + timedelta(minutes=minute),
                )
            )
        db.session.commit()


@pytest.fixture
def app(tmp_path, small_hierarchy):
    """Every class closes at three votes, as with a fixed overlap, and only near
    certainty settles one: the pug's three-way split is then closed and unsure, the
    admin's to settle (test_queue has the adaptive rules: an open class is the queue's).
    Two votes at least decide a class, so that a class with one vote is undecided."""
    return seeded(
        make_app(tmp_path, MIN_VOTES=2, MAX_VOTES=3, TARGET_CONFIDENCE=0.99), small_hierarchy
    )


@pytest.fixture
def voted(app):
    """Votes of three people: the pug split, "bird" above "ostrich", a comment."""
    add_votes(
        app,
        [
            ("v1", PUG, DOG, None),
            ("v2", PUG, MAMMAL, None),
            ("v3", PUG, PUG, None),
            ("v1", DALMATIAN, DOG, None),
            ("v2", DALMATIAN, DOG, "hard to say"),
            ("v1", BRAMBLING, BIRD, None),
            ("v2", BRAMBLING, BIRD, None),
            ("v1", OSTRICH, OSTRICH, None),
            ("v2", OSTRICH, OSTRICH, None),
        ],
        start=datetime(2024, 5, 1),
    )
    return app


def test_anonymous_visitors_are_sent_to_log_in(voted):
    client = voted.test_client()
    for page in PAGES:
        response = client.get(page)
        assert response.status_code == 302 and "/login" in response.location, page
    assert client.post(f"/admin/review/classes/{PUG}/decision").status_code in (302, 400)


def test_annotators_are_refused(voted, annotator):
    for page in PAGES:
        assert annotator.get(page).status_code == 403, page
    token = csrf_token(annotator, "/")
    response = annotator.post(
        f"/admin/review/classes/{PUG}/decision",
        data={f"{PUG}-csrf_token": token, f"{PUG}-synset": DOG},
    )
    assert response.status_code == 403


def test_the_pages_show_progress_agreement_and_labels(voted, admin):
    summary = admin.get("/admin/review/").get_data(as_text=True)
    assert "Krippendorff" in summary and "Fleiss" in summary
    assert "v1" in summary and "4 of 10" in summary  # v1 voted on four classes
    text = " ".join(summary.split())
    assert "<strong>bird</strong> (<a" in text and "is above 1 label: ostrich (<a" in text
    classes = admin.get("/admin/review/classes?status=voted").get_data(as_text=True)
    assert "dalmatian" in classes and "tench" not in classes
    assert admin.get("/admin/review/classes?status=nonsense").status_code == 400
    overview = admin.get("/admin/review/overview").get_data(as_text=True)
    assert "other bird" in overview and "ostrich" in overview
    assert "<script>" not in overview and "style=" not in overview  # nothing inline


def test_the_queue_lists_disagreements(voted, admin):
    page = admin.get("/admin/review/queue").get_data(as_text=True)
    assert f'id="{PUG}"' in page and "split" in page  # three different votes
    assert "hard to say" in page
    assert f'id="conflict-{BIRD}"' in page  # "bird" is above "ostrich"
    assert "csrf_token" in page


def test_settling_a_class_appends_a_decision(voted, admin):
    token = csrf_token(admin, "/admin/review/queue")
    for label in (PUG, DOG):  # a changed mind is a second row
        response = admin.post(
            f"/admin/review/classes/{PUG}/decision",
            data={
                f"{PUG}-csrf_token": token,
                f"{PUG}-synset": label,
                f"{PUG}-note": "a dog to anyone",
            },
        )
        assert response.status_code == 303 and response.location.endswith("/admin/review/queue")
    with voted.app_context():
        rows = db.session.scalars(select(Decision).order_by(Decision.id)).all()
        assert [(d.class_wnid, d.synset_wnid, d.note) for d in rows] == [
            (PUG, PUG, "a dog to anyone"),
            (PUG, DOG, "a dog to anyone"),
        ]
    assert f'id="{PUG}"' not in admin.get("/admin/review/queue").get_data(as_text=True)
    cil = cil_from_json(admin.get("/admin/review/download/cil.json").get_json())
    assert cil.labels[cil.label_of(PUG)].wnid == DOG


def test_bad_decisions_are_refused(voted, admin):
    token = csrf_token(admin, "/admin/review/queue")
    off_chain = admin.post(
        f"/admin/review/classes/{PUG}/decision",
        data={f"{PUG}-csrf_token": token, f"{PUG}-synset": BUS},
    )
    assert off_chain.status_code == 400 and "Not a valid choice" in off_chain.get_data(as_text=True)
    no_token = admin.post(f"/admin/review/classes/{PUG}/decision", data={f"{PUG}-synset": DOG})
    assert no_token.status_code == 400
    unknown = admin.post(
        "/admin/review/classes/n09999999/decision",
        data={"n09999999-csrf_token": token, "n09999999-synset": DOG},
    )
    assert unknown.status_code == 404
    with voted.app_context():
        assert db.session.scalars(select(Decision)).first() is None


def test_downloads(voted, admin, small_hierarchy):
    rich = admin.get("/admin/review/download/cil.json")
    assert rich.headers["Content-Disposition"] == 'attachment; filename="cil.json"'
    assert validate_cil(cil_from_json(rich.get_json()), small_hierarchy).ok
    flat = admin.get("/admin/review/download/cil-flat.json?conflicts=lift").get_json()
    assert flat[OSTRICH] == "bird" and len(flat) == 10
    votes = admin.get("/admin/review/download/votes.jsonl").get_data(as_text=True).splitlines()
    assert len(votes) == 9 and json.loads(votes[0])["annotator"] == "v1"
    refused = admin.get("/admin/review/download/cil.json?conflicts=refuse")
    assert refused.status_code == 409
    assert "ancestor of ostrich" in refused.get_data(as_text=True)
    assert admin.get("/admin/review/download/cil.json?min_votes=0").status_code == 400
    assert admin.get("/admin/review/download/secrets.txt").status_code == 404


def test_the_cil_download_is_sent_gzipped_and_conditionally(voted, admin):
    """The kept bytes are sent as they are; a client that accepts gzip gets them
    gzipped; one that names the tag of what it has gets a 304 without a body, until
    the CIL's text changes."""
    path = "/admin/review/download/cil.json"
    plain = admin.get(path)
    assert "Accept-Encoding" in plain.vary
    assert admin.get(path).data is plain.data  # the kept bytes, not a copy per request
    assert "Content-Encoding" not in plain.headers
    packed = admin.get(path, headers={"Accept-Encoding": "gzip, deflate"})
    assert packed.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.data) == plain.data
    assert packed.headers["Content-Disposition"] == 'attachment; filename="cil.json"'
    assert packed.headers["ETag"] != plain.headers["ETag"]
    for answer in (plain, packed):
        again = admin.get(
            path,
            headers={
                "If-None-Match": answer.headers["ETag"],
                "Accept-Encoding": answer.headers.get("Content-Encoding", "identity"),
            },
        )
        assert again.status_code == 304 and again.data == b""
    add_votes(voted, [("v3", PUG, PUG, None), ("v2", PUG, PUG, None)])
    changed = admin.get(path, headers={"If-None-Match": plain.headers["ETag"]})
    assert changed.status_code == 200 and changed.data != plain.data


def test_aggregation_is_computed_once_per_vote_log_position(voted, admin, monkeypatch):
    """Every review page aggregates every vote: kept while no vote or decision is
    added, computed afresh when one is, and apart for other settings."""
    calls = []
    real = aggregation.aggregate
    monkeypatch.setattr(aggregation, "aggregate", lambda *a, **k: calls.append(1) or real(*a, **k))
    for page in ("/admin/review/", "/admin/review/queue", "/admin/review/classes"):
        assert admin.get(page).status_code == 200
    assert len(calls) == 1
    with voted.app_context():
        v3 = db.session.scalar(select(User.id).where(User.username == "v3"))
        db.session.add(Vote(annotator_id=v3, class_wnid=DALMATIAN, synset_wnid=DOG))
        db.session.commit()
    token = csrf_token(admin, "/admin/review/queue")
    assert len(calls) == 2
    assert (
        admin.post(
            f"/admin/review/classes/{PUG}/decision",
            data={f"{PUG}-csrf_token": token, f"{PUG}-synset": DOG},
        ).status_code
        == 303
    )
    for page in ("/admin/review/", "/admin/review/overview"):
        assert admin.get(page).status_code == 200
    assert len(calls) == 3
    assert admin.get("/admin/review/download/cil.json?min_votes=1").status_code == 200
    assert len(calls) == 4


def test_a_class_page_indexes_the_aggregation_once(voted, admin, monkeypatch):
    """The label names, the conflict groups by label and the queue's entries by class
    are built once per aggregation, not on each class page (each a pass over every
    label, group or entry: milliseconds a page at ImageNet-21k's size); after a vote,
    once more, and the page shows the new figures."""
    built = []
    for helper in ("_label_names_of", "_groups_by_label", "_entry_of_class"):
        real = getattr(review, helper, None)
        monkeypatch.setattr(
            review,
            helper,
            lambda result, real=real, helper=helper: built.append(helper) or real(result),
            raising=False,
        )
    pages = [admin.get(f"/admin/review/classes/{wnid}") for wnid in (PUG, OSTRICH, PUG)]
    # (compared as text a person reads: the CSRF token in the markup is signed with the time)
    assert all(page.status_code == 200 for page in pages) and plain(pages[0].text) == plain(
        pages[2].text
    )
    assert "unsure" in plain(pages[0].text)  # the pug's three-way split, from its entry
    assert admin.get("/admin/review/classes").status_code == 200
    assert sorted(built) == ["_entry_of_class", "_groups_by_label", "_label_names_of"]
    add_votes(voted, [("v3", OSTRICH, BIRD, None)], start=datetime(2024, 5, 3))
    admin.get(f"/admin/review/classes/{OSTRICH}")
    assert len(built) == 6


SCHOOL_BUS, TROLLEYBUS = "n04146614", "n04487081"


def test_conflicts_are_counted_among_decided_labels_only_and_grouped(voted, admin):
    """ "bus" decided for the school bus sits above the trolleybus, which has no
    vote and keeps its own label: no conflict to look at yet."""
    add_votes(voted, [("v1", SCHOOL_BUS, BUS, None), ("v2", SCHOOL_BUS, BUS, None)])
    with voted.app_context():
        result = aggregation.current_aggregation()
        rows = disagreements.conflict_rows(result, result.resolution.groups)
    bird = next(r for r in rows if r.general == BIRD)  # the pug's "dog" is the weighting's
    assert ([b.wnid for b in bird.below], bird.classes) == ([OSTRICH], (BRAMBLING,))
    assert [b.classes for b in bird.below] == [(OSTRICH,)]
    assert BUS not in [r.general for r in rows]
    summary = " ".join(admin.get("/admin/review/").text.split())
    assert (
        "trolleybus" not in summary
        and f"conflict{'s' if len(rows) > 1 else ''} among decided labels: {len(rows)} open"
        in summary
    )


def test_queue_rules(voted):
    """Each open conflict once, then the classes with at least the minimum votes and
    no clear winner, or a comment; never a class without votes, nor one whose only
    trouble is its label's conflict; the classes oldest first."""
    add_votes(
        voted,
        [
            ("v1", SCHOOL_BUS, BUS, None),
            ("v2", SCHOOL_BUS, BUS, None),
            ("v1", TROLLEYBUS, TROLLEYBUS, "is this a bus?"),
            ("v1", "n01440764", "n01440764", None),
        ],
    )  # tench: one vote, no comment
    with voted.app_context():
        entries = disagreements.disagreement_queue(aggregation.current_aggregation())
    conflicts = [e.general for e in entries if e.kind == "conflict"]
    assert conflicts[0] == BIRD and BUS not in conflicts  # conflicts first
    classes = [e for e in entries if e.kind == "class"]
    assert [e.wnid for e in classes] == [PUG, DALMATIAN, TROLLEYBUS]
    reasons = {e.wnid: e.reasons for e in classes}
    assert reasons[PUG][:2] == ("unsure", "split")  # a tie too where the weighting leaves one
    assert reasons[DALMATIAN] == reasons[TROLLEYBUS] == ("comment",)


def test_review_lists_page_and_filter(voted, admin):
    classes = admin.get("/admin/review/classes?status=split").text
    assert "pug" in classes and "ostrich" not in classes
    assert "dalmatian" in admin.get("/admin/review/classes?status=comment").text
    by_v3 = admin.get("/admin/review/classes?annotator=v3").text
    assert "pug" in by_v3 and "dalmatian" not in by_v3
    assert admin.get("/admin/review/classes?annotator=nobody").status_code == 400
    first = admin.get("/admin/review/classes?per_page=4").text
    assert "page 1 of 3" in first
    names = re.findall(r'<td class="class-name">([^<]+)', first)
    assert names == sorted(names, key=str.casefold)
    overview = admin.get("/admin/review/overview").text
    with voted.app_context():
        labels = aggregation.current_aggregation().cil.num_labels
    assert overview.count('class="label-card"') == labels and "page 1 of 1" in overview


def test_a_label_card_shows_its_first_member_with_pictures(voted, admin, tmp_path):
    """Only the pug has pictures: the card of the label holding it shows the pug's,
    on every request and on any page size (the cards are kept per aggregation), and
    no other card shows one."""
    pictures = make_image_folder(tmp_path / "pictures", [PUG])
    voted.extensions["cil_images"] = (images.FolderSource(pictures), None)
    with voted.app_context():
        cil = aggregation.current_aggregation().cil
    [holding] = [label.name for label in cil.labels if PUG in label.members]
    seen = set()
    for path in (
        "/admin/review/overview",
        "/admin/review/overview",
        "/admin/review/overview?per_page=1&page=2",
    ):
        for card in re.findall(
            r'<section class="label-card">.*?</section>', admin.get(path).text, re.DOTALL
        ):
            name = re.search(r"<h2>([^<]+)</h2>", card).group(1)
            shown = re.findall(r'<img src="([^"]+)"', card)
            assert shown == ([f"/images/small/{PUG}/0.jpg"] if name == holding else []), (
                path,
                name,
            )
            seen.add(name)
    assert holding in seen


# --- the queue: one row per conflict group, accept, settle differently --------------------
CRANE_BIRD, DOMESTIC_ANIMAL = "n02012849", "n01317541"


def plain(html: str) -> str:
    """A page's words, without tags, spaces collapsed."""
    return " ".join(re.sub(r"<[^>]+>", "", html).split())


def label_decision_rows(app):
    with app.app_context():
        return [
            (d.general_wnid, json.loads(d.keep_json), json.loads(d.merge_json), d.name)
            for d in db.session.scalars(select(LabelDecision).order_by(LabelDecision.id))
        ]


def test_the_queue_lists_a_conflict_once_not_its_classes(voted, admin):
    page = " ".join(admin.get("/admin/review/queue").text.split())
    assert page.count(f'id="conflict-{BIRD}"') == 1
    assert f'id="{OSTRICH}"' not in page and f'id="{BRAMBLING}"' not in page
    assert "keep ostrich (2 votes kept against 0 merged); name the rest “other bird”" in page
    assert f'href="/admin/review/classes/{OSTRICH}"' in page  # its classes, linked
    assert f'id="{PUG}"' in page  # a reason of its own
    why = re.findall(r'data-label="Why">([^<]*)<', page)
    assert [w.split(",")[0] for w in why] == ["unsure", "comment"]
    with voted.app_context():  # the bird group, and the dog group where pug is "pug"
        n_open = len(label_decisions.open_groups(aggregation.current_aggregation()))
    accept_all = f"Accept all {n_open} proposed resolution{'s' if n_open > 1 else ''}<"
    assert accept_all in page  # the pug and the dalmatian need a person


def test_accept_records_a_label_decision_and_the_conflict_leaves_the_queue(voted, admin):
    token = csrf_token(admin, "/admin/review/queue")
    response = admin.post(f"/admin/review/conflicts/{BIRD}/accept", data={"csrf_token": token})
    assert response.status_code == 303 and response.location.endswith("/admin/review/queue")
    assert label_decision_rows(voted) == [(BIRD, [OSTRICH], [], None)]
    assert f'id="conflict-{BIRD}"' not in admin.get("/admin/review/queue").text
    again = admin.post(f"/admin/review/conflicts/{BUS}/accept", data={"csrf_token": token})
    assert again.status_code == 404
    # The ostrich's page lists it among the label decisions on its chain; the bus's not.
    ostrich = " ".join(admin.get(f"/admin/review/classes/{OSTRICH}").text.split())
    assert "Label decisions on its chain" in ostrich and "below bird, kept ostrich" in ostrich
    assert (
        "Label decisions on its chain" not in admin.get(f"/admin/review/classes/{SCHOOL_BUS}").text
    )


def test_a_new_vote_reopens_a_settled_conflict(voted, admin):
    token = csrf_token(admin, "/admin/review/queue")
    admin.post(f"/admin/review/conflicts/{BIRD}/accept", data={"csrf_token": token})
    add_votes(voted, [("v1", CRANE_BIRD, CRANE_BIRD, None), ("v2", CRANE_BIRD, CRANE_BIRD, None)])
    page = " ".join(admin.get("/admin/review/queue").text.split())
    assert f'id="conflict-{BIRD}"' in page and "crane" in page


@pytest.fixture
def conflicts_and_overlaps(app):
    """No split, tie or comment: "bird" above "ostrich", and the pug ("mammal") and the
    dalmatian ("domestic animal") each under the other's label through its other path."""
    add_votes(
        app,
        [
            (name, wnid, label, None)
            for name in ("v1", "v2")
            for wnid, label in (
                (BRAMBLING, BIRD),
                (OSTRICH, OSTRICH),
                (PUG, MAMMAL),
                (DALMATIAN, DOMESTIC_ANIMAL),
            )
        ],
    )
    return app


def test_accept_all_empties_a_queue_of_conflicts_and_overlaps(conflicts_and_overlaps, admin):
    page = " ".join(admin.get("/admin/review/queue").text.split())
    assert f'id="conflict-{BIRD}"' in page and f'id="{PUG}"' in page and f'id="{DALMATIAN}"' in page
    assert "Accept all 3 proposed resolutions" in page
    token = csrf_token(admin, "/admin/review/queue")
    response = admin.post("/admin/review/queue/accept-all", data={"csrf_token": token})
    assert response.status_code == 303
    after = admin.get("/admin/review/queue").text
    assert "Nothing to settle" in after
    assert label_decision_rows(conflicts_and_overlaps) == [(BIRD, [OSTRICH], [], None)]
    with conflicts_and_overlaps.app_context():
        decided = {
            (d.class_wnid, d.synset_wnid, d.note) for d in db.session.scalars(select(Decision))
        }
        assert decided == {
            (PUG, MAMMAL, "accepted as exported"),
            (DALMATIAN, DOMESTIC_ANIMAL, "accepted as exported"),
        }
        assert aggregation.current_aggregation().resolution.broken == ()


def test_settling_a_conflict_differently(voted, admin):
    token = csrf_token(admin, "/admin/review/queue")
    page = admin.get("/admin/review/queue").text
    assert f'name="{BIRD}-label_{OSTRICH}"' in page and f'name="{BIRD}-name"' in page
    response = admin.post(
        f"/admin/review/conflicts/{BIRD}/settle",
        data={
            f"{BIRD}-csrf_token": token,
            f"{BIRD}-label_{OSTRICH}": "merge",
            f"{BIRD}-name": "bird",
        },
    )
    assert response.status_code == 303
    assert label_decision_rows(voted) == [(BIRD, [], [OSTRICH], "bird")]
    cil = cil_from_json(admin.get("/admin/review/download/cil.json").get_json())
    assert cil.labels[cil.label_of(OSTRICH)].wnid == BIRD


def test_wrong_label_decisions_are_refused_naming_the_field(voted, admin):
    token = csrf_token(admin, "/admin/review/queue")
    not_a_conflict = admin.post(
        f"/admin/review/conflicts/{BUS}/settle", data={f"{BUS}-csrf_token": token}
    )
    assert not_a_conflict.status_code == 400 and "general:" in not_a_conflict.text
    not_a_lemma = admin.post(
        f"/admin/review/conflicts/{BIRD}/settle",
        data={
            f"{BIRD}-csrf_token": token,
            f"{BIRD}-label_{OSTRICH}": "keep",
            f"{BIRD}-name": "fowl",
        },
    )
    assert not_a_lemma.status_code == 400 and "name:" in not_a_lemma.text
    assert "fowl" in not_a_lemma.text
    with voted.app_context():  # a wnid outside the group, as the pages and the API check it
        with pytest.raises(label_decisions.LabelDecisionError) as refused:
            label_decisions.record(
                aggregation.current_aggregation(), 1, BIRD, [OSTRICH, CRANE_BIRD], [], None
            )
        assert set(refused.value.problems) == {"keep"}
        db.session.rollback()
    assert label_decision_rows(voted) == []


# --- settling a class where the decision needs another change -----------------------------
JAY, MAGPIE, CORVINE = "n01580077", "n01582220", "n01578575"


@pytest.fixture(scope="module")
def corvine_hierarchy(wordnet):
    from clustering.hierarchy import Hierarchy

    return Hierarchy.from_wordnet([BRAMBLING, JAY, MAGPIE], wordnet)


@pytest.fixture
def corvines(tmp_path, corvine_hierarchy):
    """magpie and jay voted "corvine bird", the brambling "bird"; magpie settled as
    "corvine bird" by an admin."""
    app = seeded(make_app(tmp_path), corvine_hierarchy)
    boss = add_user(app, "boss", role="admin")
    add_votes(
        app,
        [
            (name, wnid, label, None)
            for name in ("v1", "v2")
            for wnid, label in ((MAGPIE, CORVINE), (JAY, CORVINE), (BRAMBLING, BIRD))
        ],
    )
    with app.app_context():
        db.session.add(Decision(admin_id=boss, class_wnid=MAGPIE, synset_wnid=CORVINE))
        db.session.commit()
    return app, log_in(app.test_client(), boss)


def settle(client, wnid, label, **extra):
    token = csrf_token(client, f"/admin/review/classes/{wnid}")
    data = {f"{wnid}-csrf_token": token, f"{wnid}-synset": label, f"{wnid}-note": "a bird"}
    data.update({f"{wnid}-{key}": value for key, value in extra.items()})
    return client.post(f"/admin/review/classes/{wnid}/decision", data=data)


def exported(client, wnid):
    cil = cil_from_json(client.get("/admin/review/download/cil.json").get_json())
    return cil.labels[cil.label_of(wnid)].wnid


def test_a_class_decision_that_merges_another_label_asks_first(corvines):
    app, admin = corvines
    asked = settle(admin, JAY, BIRD)
    assert asked.status_code == 200
    text = plain(asked.text)
    assert "Settling jay as bird merges corvine bird (the label of magpie) into bird" in text
    assert "Settle jay as bird and merge corvine bird into bird" in text
    assert "Settle jay as corvine bird instead" in text and "Cancel" in text
    with app.app_context():
        assert len(db.session.scalars(select(Decision)).all()) == 1  # nothing saved yet
    merged = settle(admin, JAY, BIRD, then="merge")
    assert merged.status_code == 303
    assert label_decision_rows(app) == [(BIRD, [], [CORVINE], None)]
    with app.app_context():
        rows = db.session.scalars(select(Decision).order_by(Decision.id))
        latest = {d.class_wnid: d.synset_wnid for d in rows}
        assert latest == {JAY: BIRD, MAGPIE: BIRD}  # magpie's decision follows the merge
        assert aggregation.current_aggregation().resolution.broken == ()
    assert exported(admin, JAY) == BIRD and exported(admin, MAGPIE) == BIRD


def test_settling_as_the_label_below_instead(corvines):
    app, admin = corvines
    instead = settle(admin, JAY, CORVINE)
    assert instead.status_code == 303  # needs no other change: saved at once
    assert exported(admin, JAY) == CORVINE
    with app.app_context():
        assert aggregation.current_aggregation().resolution.broken == ()


def test_the_class_page_shows_votes_decisions_and_the_reason(voted, admin):
    add_votes(voted, [("v1", PUG, PUG, "changed my mind")], start=datetime(2024, 6, 1))
    settle(admin, PUG, DOG)
    page = " ".join(admin.get(f"/admin/review/classes/{PUG}").text.split())
    assert "pug" in page and PUG in page
    assert page.count('<tr class="vote') == 4  # every vote, the first of v1's not counted
    assert "changed my mind" in page and "not counted" in page
    assert "boss" in page and "a bird" in page  # the decision and its note
    assert "settled as dog" in page  # why its label is what it is
    assert f'action="/admin/review/classes/{PUG}/decision"' in page
    assert admin.get("/admin/review/classes/n09999999").status_code == 404
    assert f'href="/admin/review/classes/{PUG}"' in admin.get("/admin/review/classes").text


def test_decisions_that_cannot_hold_are_shown_at_the_top(voted, admin):
    """ "ostrich" settled as itself, then merged into "bird" by a later label decision:
    the class decision cannot hold, and the queue and the summary say so."""
    with voted.app_context():
        boss = db.session.scalar(select(User.id).where(User.username == "boss"))
        db.session.add(Decision(admin_id=boss, class_wnid=OSTRICH, synset_wnid=OSTRICH))
        db.session.add(
            LabelDecision(
                admin_id=boss,
                general_wnid=BIRD,
                keep_json="[]",
                merge_json=json.dumps([OSTRICH]),
                created_at=datetime(2100, 1, 1),
            )
        )
        db.session.commit()
    for page in ("/admin/review/queue", "/admin/review/"):
        text = plain(admin.get(page).text)
        assert "2 decisions cannot hold as decided" in text, page  # needs kept; ends in bird
        assert "the decision on ostrich" in text
