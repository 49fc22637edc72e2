"""The review pages' work per request after the first, on the same survey at two
sizes (ten classes and a thousand, three votes on each): what a page computes from
the aggregation is kept with it, so a request's Python calls do not grow with the
class list (benchmarks/growth.py measures the same at ImageNet-21k's size)."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta

import pytest

from survey_app import review
from survey_app.extensions import db
from survey_app.models import User, Vote

from .conftest import add_user, log_in, make_app, seeded


def python_calls(call) -> int:
    """How many Python functions `call()` calls, itself and all below it."""
    calls = 0

    def count(_frame, event, _arg):
        nonlocal calls
        calls += event == "call"

    sys.setprofile(count)
    try:
        call()
    finally:
        sys.setprofile(None)
    return calls


def voted_survey(tmp_path, hierarchy):
    """Three annotators' votes on every class (two the parent, one the grandparent,
    so labels hold several classes): a client logged in as an admin."""
    app = seeded(make_app(tmp_path), hierarchy)
    admin = log_in(app.test_client(), add_user(app, "boss", role="admin"))
    with app.app_context():
        users = []
        for name in ("v1", "v2", "v3"):
            user = User(username=name)
            db.session.add(user)
            users.append(user)
        db.session.flush()
        start = datetime(2024, 5, 2)
        for i, image_class in enumerate(hierarchy.classes):
            chain = hierarchy.chain_wnids(image_class.wnid)
            picks = (chain[-2], chain[-2], chain[max(len(chain) - 3, 0)])
            for user, pick in zip(users, picks, strict=True):
                db.session.add(
                    Vote(
                        annotator_id=user.id,
                        class_wnid=image_class.wnid,
                        synset_wnid=pick,
                        created_at=start + timedelta(seconds=i),
                    )
                )
        db.session.commit()
    return admin


def request_work(client, path: str) -> int:
    """The Python calls of a request for `path` after a first one."""
    assert client.get(path).status_code == 200
    return python_calls(lambda: client.get(path))


@pytest.mark.parametrize(
    "path",
    [
        # Pages of three, which both sizes fill. Labels at a glance: 2,879 and 2,924
        # calls; it sorted every label and walked the largest labels' members for their
        # first picture and notes on each request: 2,943 against 3,896.
        "/admin/review/overview?per_page=3",
    ],
)
def test_a_review_pages_work_does_not_grow_with_the_class_list(
    tmp_path, small_hierarchy, imagenet_hierarchy, path, monkeypatch
):
    # One name a card or row: the small survey's labels hold fewer than the default.
    monkeypatch.setattr(review, "NAMES_SHOWN", 1)
    work = {}
    for name, hierarchy in (("small", small_hierarchy), ("large", imagenet_hierarchy)):
        folder = tmp_path / name
        folder.mkdir()
        work[name] = request_work(voted_survey(folder, hierarchy), path)
    assert work["large"] < 1.1 * work["small"], work
