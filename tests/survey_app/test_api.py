"""The JSON API: what it answers, and what it refuses."""

import json

import pytest
from sqlalchemy import func, select

from survey_app.extensions import db
from survey_app.models import Vote

from .conftest import add_user, csrf_token, log_in

TENCH, GOLDFISH, DALMATIAN, DOG = "n01440764", "n01443537", "n02110341", "n02084071"


def token(client) -> str:
    return client.get("/api/me").get_json()["csrf_token"]


def post_vote(client, body, csrf: str | None = "fetch"):
    headers = {"X-CSRFToken": token(client) if csrf == "fetch" else csrf} if csrf else {}
    data = body if isinstance(body, str) else json.dumps(body)
    return client.post("/api/votes", data=data, headers=headers, content_type="application/json")


def stored_votes(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Vote))


def test_anonymous_gets_401_json(client):
    for path in ("/api/me", "/api/progress", "/api/next", f"/api/classes/{TENCH}", "/api/votes"):
        response = client.get(path)
        assert response.status_code == 401 and "log in" in response.get_json()["error"]


def test_me_progress_and_next(annotator):
    me = annotator.get("/api/me").get_json()
    assert me["username"] == "ann" and me["role"] == "annotator" and me["csrf_token"]
    assert annotator.get("/api/progress").get_json() == {
        "annotator": {"voted": 0, "total": 10},
        "team": {"complete": 0, "total": 10, "min_votes": 1, "max_votes": 5, "target": 0.8},
    }
    assert annotator.get("/api/next").get_json() == {"class": TENCH, "url": f"/api/classes/{TENCH}"}


def test_class_with_chain_and_counts(annotator):
    body = annotator.get(f"/api/classes/{DALMATIAN}").get_json()
    assert (body["wnid"], body["name"], body["n_paths"]) == (DALMATIAN, "dalmatian", 2)
    assert body["suggestion"] == body["selected"] == DOG and body["my_vote"] is None
    chain = body["chain"]
    assert chain[0]["name"] == "entity" and chain[-1]["wnid"] == DALMATIAN
    assert chain[-1]["original"] and not chain[0]["original"]
    dog = next(entry for entry in chain if entry["wnid"] == DOG)
    assert dog["suggested"] and dog["paths"] == [0, 1] and dog["provider"] == "wordfreq"
    assert dog["count"] > 10**6 and dog["count_text"].endswith("M")
    assert dog["other_classes"] == 1 and dog["members"][0]["name"] == "pug"
    assert any(len(entry["paths"]) == 1 for entry in chain)
    assert body["images"] == [] and dog["members"][0]["image"] is None


def test_unknown_class_is_404_json(annotator):
    response = annotator.get("/api/classes/n99999999")
    assert response.status_code == 404 and "not a class" in response.get_json()["error"]


def test_vote_round_trip(app, annotator):
    response = post_vote(
        annotator,
        {"class": TENCH, "synset": TENCH, "comment": "<i>hm</i>", "submission_id": "abcdef12"},
    )
    assert response.status_code == 201
    body = response.get_json()
    assert body["created"] and body["next"] == GOLDFISH
    assert body["vote"]["synset"] == TENCH and body["vote"]["comment"] == "<i>hm</i>"
    again = post_vote(annotator, {"class": TENCH, "synset": TENCH, "submission_id": "abcdef12"})
    assert again.status_code == 200 and not again.get_json()["created"]
    post_vote(annotator, {"class": TENCH, "synset": "n02512053"})  # fish
    latest = annotator.get("/api/votes").get_json()["votes"]
    assert [(v["class"], v["synset"], v["synset_name"]) for v in latest] == [
        (TENCH, "n02512053", "fish")
    ]
    history = annotator.get("/api/votes?history=1").get_json()["votes"]
    assert [v["synset"] for v in history] == [TENCH, "n02512053"]
    assert annotator.get(f"/api/classes/{TENCH}").get_json()["my_vote"]["synset"] == "n02512053"
    assert annotator.get("/api/progress").get_json()["annotator"]["voted"] == 1


@pytest.mark.parametrize(
    "body, status",
    [
        ({"class": TENCH, "synset": DOG}, 400),  # not on the chain
        ({"class": "n99999999", "synset": DOG}, 404),
        ({"class": TENCH}, 400),
        ({"class": TENCH, "synset": 5}, 400),
        ({"class": [TENCH], "synset": TENCH}, 400),
        ({"class": TENCH, "synset": TENCH, "comment": 3}, 400),
        ({"class": TENCH, "synset": TENCH, "comment": "x" * 1001}, 400),
        ({"class": TENCH, "synset": TENCH, "comment": "bad \ud800 surrogate"}, 400),
        ({"class": TENCH, "synset": TENCH, "submission_id": "no spaces allowed"}, 400),
        ([TENCH, TENCH], 400),
        ("not json", 400),
    ],
)
def test_bad_votes_store_nothing(app, annotator, body, status):
    response = post_vote(annotator, body)
    assert response.status_code == status and response.get_json()["error"]
    assert stored_votes(app) == 0


@pytest.mark.parametrize("csrf", [None, "forged-token"])
def test_vote_without_csrf_header_is_refused(app, annotator, csrf):
    response = post_vote(annotator, {"class": TENCH, "synset": TENCH}, csrf=csrf)
    assert response.status_code == 400 and "CSRF" in response.get_json()["error"]
    assert stored_votes(app) == 0


def test_oversized_body_is_refused(app, annotator):
    response = post_vote(annotator, {"class": TENCH, "synset": TENCH, "comment": "x" * 2_000_000})
    assert response.status_code == 413 and response.get_json()["status"] == 413
    assert stored_votes(app) == 0


@pytest.mark.parametrize("submission_id", ["a" * 64 + "\n", "abcdefgh\n", "abcdefgh\r"])
def test_submission_id_must_match_whole(either_app, submission_id):
    annotator = log_in(either_app.test_client(), add_user(either_app, "ann"))
    response = post_vote(
        annotator, {"class": DALMATIAN, "synset": DOG, "submission_id": submission_id}
    )
    assert response.status_code == 400 and "submission_id" in response.get_json()["error"]
    assert stored_votes(either_app) == 0


def test_votes_are_rate_limited(app, annotator):
    """One annotator stored 194 votes/s with 1,000-character comments: about
    0.7 GB an hour. A person votes far slower than the limit."""
    app.config.update(VOTE_RATE_LIMIT=3, VOTE_RATE_WINDOW_SECONDS=60)
    for n, label in enumerate((DOG, DALMATIAN, DOG)):
        assert (
            post_vote(
                annotator, {"class": DALMATIAN, "synset": label, "comment": "x" * n}
            ).status_code
            == 201
        )
    refused = post_vote(annotator, {"class": TENCH, "synset": TENCH})
    assert refused.status_code == 429 and "votes" in refused.get_json()["error"]
    page = annotator.post(
        f"/annotate/{GOLDFISH}", data={"csrf_token": csrf_token(annotator, "/"), "synset": GOLDFISH}
    )
    assert page.status_code == 429 and "Too many votes" in page.text
    # A resent vote adds nothing, so it is answered as before.
    assert (
        post_vote(annotator, {"class": DALMATIAN, "synset": DOG, "comment": "xx"}).status_code
        == 200
    )
    assert stored_votes(app) == 3
