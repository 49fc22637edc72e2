"""The review pages' work per request after the first, on the same survey at two
sizes (ten classes and a thousand, three votes on each): what a page computes from
the aggregation is kept with it, so a request's Python calls do not grow with the
class list (benchmarks/growth.py measures the same at ImageNet-21k's size)."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

import survey_app
from survey_app import review
from survey_app.extensions import db
from survey_app.models import User, Vote

from .conftest import add_user, log_in, make_app, seeded

APP = str(Path(survey_app.__file__).parent)


def app_calls(call) -> int:
    """How many calls `call()` makes of the survey app's own Python functions (and
    generators resumed), at any depth: its views' work, not the templates', whose
    pages of the larger survey name more labels and classes."""
    calls = 0

    def count(frame, event, _arg):
        nonlocal calls
        where = frame.f_code.co_filename  # a template's is its .html file
        if event == "call" and where.startswith(APP) and where.endswith(".py"):
            calls += 1

    sys.setprofile(count)
    try:
        call()
    finally:
        sys.setprofile(None)
    return calls


def parents(chain: list[str]) -> tuple[str, str, str]:
    """Two votes for the parent, one for the grandparent: labels hold several classes,
    some above others (conflicts)."""
    return chain[-2], chain[-2], chain[max(len(chain) - 3, 0)]


def own_classes(chain: list[str]) -> tuple[str, str, str]:
    """Two votes for the class itself, one for its parent: no conflict (no class lies
    above another)."""
    return chain[-1], chain[-1], chain[-2]


def voted_survey(tmp_path, hierarchy, picks=parents):
    """Three annotators' votes on every class, chosen from its chain by `picks`, the
    third with a comment (each class is in the disagreement queue for it): a client
    logged in as an admin."""
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
            for user, pick in zip(users, picks(chain), strict=True):
                db.session.add(
                    Vote(
                        annotator_id=user.id,
                        class_wnid=image_class.wnid,
                        synset_wnid=pick,
                        comment="not sure" if user is users[-1] else None,
                        created_at=start + timedelta(seconds=i),
                    )
                )
        db.session.commit()
    return admin


def request_work(client, path: str) -> int:
    """The app's calls in a request for `path` after a first one."""
    assert client.get(path).status_code == 200
    return app_calls(lambda: client.get(path))


def middle_class(hierarchy) -> str:
    return hierarchy.classes[len(hierarchy.classes) // 2].wnid


@pytest.mark.parametrize(
    ("path", "picks"),
    [
        # Pages of three, which both sizes fill. The app's calls, small and large survey:
        # labels at a glance 55 and 55, summary 67 and 79, classes 49 and 49, disagreements
        # 61 and 61, class 75 and 75. Before, labels at a glance sorted every label and
        # walked the largest labels' members (104 against 885), the summary counted the
        # open conflicts (64 against 214) and disagreements its queue's entries (100
        # against 4,060) on each request.
        (lambda hierarchy: "/admin/review/overview?per_page=3", parents),
        (lambda hierarchy: "/admin/review/?per_page=3", parents),
        (lambda hierarchy: "/admin/review/classes?per_page=3", parents),
        # Three classes with a comment at both sizes, no conflict (whose rows list every
        # label below theirs).
        (lambda hierarchy: "/admin/review/queue?per_page=3", own_classes),
        (lambda hierarchy: f"/admin/review/classes/{middle_class(hierarchy)}", parents),
    ],
    ids=["overview", "summary", "classes", "disagreements", "class"],
)
def test_a_review_pages_work_does_not_grow_with_the_class_list(
    tmp_path, small_hierarchy, imagenet_hierarchy, path, picks, monkeypatch
):
    # One name a card or row: the small survey's labels hold fewer than the default.
    monkeypatch.setattr(review, "NAMES_SHOWN", 1)
    work = {}
    for name, hierarchy in (("small", small_hierarchy), ("large", imagenet_hierarchy)):
        folder = tmp_path / name
        folder.mkdir()
        admin = voted_survey(folder, hierarchy, picks)
        work[name] = request_work(admin, path(hierarchy))
    # A few calls a row shown may differ (an open conflict's link to its queue page).
    assert work["large"] <= work["small"] + 20, work
