"""Vote, review and export in Chromium on a class list where a class lies above others:
a hand-made list ("dog" above three of its breeds, beside two fish), and ImageNet-21k's
winter-21 list of 10,450 classes from the timm wheel (marked `imagenet21k`: it needs
the wheel, and seeding takes minutes; see the README's "Larger class lists")."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert

from clustering.cil import cil_from_json
from clustering.hierarchy import Hierarchy
from clustering.validate import validate_cil
from survey_app import class_states
from survey_app.extensions import db
from survey_app.models import Vote

from .conftest import BROWSER_TESTS, add_user, browser_log_in, make_app, seeded, serving

pytestmark = BROWSER_TESTS
DOG, BEAGLE, PUG, DALMATIAN = "n02084071", "n02088364", "n02110958", "n02110341"
TENCH, GOLDFISH = "n01440764", "n01443537"
TIMM = "timm==1.0.31"  # as benchmarks/growth.py
W21_LIST = "timm/data/_info/imagenet21k_miil_w21_synsets.txt"


def votes_in_browser(page, base: str, choices: dict[str, str], chains) -> None:
    """Vote each class's choice on its annotate page, by its number key and Enter."""
    for wnid, label in choices.items():
        page.goto(f"{base}/annotate/{wnid}")
        key = str(len(chains[wnid]) - chains[wnid].index(label))  # 1: the class itself
        page.keyboard.press(key)
        with page.expect_navigation():
            page.keyboard.press("Enter")


def review_and_export(page, base: str, hierarchy: Hierarchy):
    """The admin's round: the summary, Disagreements, Labels at a glance, the CIL."""
    browser_log_in(page, base, "boss")
    for path, heading in (
        ("/admin/review/", "Review"),
        ("/admin/review/queue", "Disagreements"),
        ("/admin/review/overview", "Labels"),
    ):
        response = page.goto(f"{base}{path}")
        assert response.status == 200 and heading in page.locator("h1").inner_text()
    page.goto(f"{base}/admin/review/")
    with page.expect_download() as caught:
        page.click("nav.review-nav >> text=/^CIL$/")
    cil = cil_from_json(json.loads(Path(caught.value.path()).read_text()))
    report = validate_cil(cil, hierarchy)
    assert report.ok, report.format()
    return cil


@pytest.fixture
def ancestor_list(tmp_path, wordnet) -> Hierarchy:
    listing = tmp_path / "classes.txt"
    listing.write_text(
        "".join(f"{wnid}\n" for wnid in (DOG, BEAGLE, PUG, DALMATIAN, TENCH, GOLDFISH))
    )
    return Hierarchy.from_class_list(listing, wordnet)


def test_vote_review_export_with_a_class_above_others(tmp_path, ancestor_list, browser):
    hierarchy = ancestor_list
    app = seeded(make_app(tmp_path, MAX_VOTES=2), hierarchy)
    chains = {c.wnid: hierarchy.chain_wnids(c.wnid) for c in hierarchy.classes}
    # "dog" itself and the pug as dog; the beagle and dalmatian keep their own names.
    choices = {DOG: DOG, PUG: DOG, BEAGLE: BEAGLE, DALMATIAN: DALMATIAN}
    for name in ("ann1", "ann2"):
        add_user(app, name)
    add_user(app, "boss", role="admin")
    with serving(app) as base:
        for name in ("ann1", "ann2"):
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            page = context.new_page()
            browser_log_in(page, base, name)
            votes_in_browser(page, base, choices, chains)
            context.close()
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        cil = review_and_export(page, base, hierarchy)
    labels = {label.wnid: label for label in cil.labels}
    by_class = {c.wnid: cil.label_by_index()[c.label_index].wnid for c in cil.classes}
    assert by_class[DOG] == by_class[PUG] == DOG
    assert labels[DOG].other and labels[DOG].name == "other dog"  # beside beagle, dalmatian
    assert by_class[BEAGLE] == BEAGLE and by_class[DALMATIAN] == DALMATIAN


@pytest.mark.imagenet21k
@pytest.mark.skipif(
    not os.environ.get("CIL_TIMM_WHEEL_DIR"),
    reason="set CIL_TIMM_WHEEL_DIR to a folder holding (or to receive) the timm wheel",
)
def test_vote_review_export_on_imagenet21k_winter21(tmp_path, wordnet, browser):
    wheel_dir = Path(os.environ["CIL_TIMM_WHEEL_DIR"])
    if not sorted(wheel_dir.glob("timm-*.whl")):
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                TIMM,
                "--no-deps",
                "-q",
                "-d",
                str(wheel_dir),
            ],
            check=True,
        )
    with zipfile.ZipFile(max(wheel_dir.glob("timm-*.whl"))) as wheel:
        wnids = wheel.read(W21_LIST).decode().split()
    assert len(wnids) == 10450
    listing = tmp_path / "classes.txt"
    listing.write_text("\n".join(wnids) + "\n")
    hierarchy = Hierarchy.from_class_list(listing, wordnet)
    app = seeded(make_app(tmp_path, AGGREGATION_INLINE_SECONDS=1.0), hierarchy)
    voters = [add_user(app, name) for name in ("ann1", "ann2", "ann3")]
    add_user(app, "boss", role="admin")
    chains = {c.wnid: hierarchy.chain_wnids(c.wnid) for c in hierarchy.classes}
    start = datetime(2026, 12, 1, 9)
    with app.app_context():  # the parent, three times, in one INSERT: the browser is the point
        db.session.execute(
            insert(Vote),
            [
                {
                    "annotator_id": voter,
                    "class_wnid": wnid,
                    "synset_wnid": chain[-2] if len(chain) > 1 else chain[-1],
                    "created_at": start + timedelta(seconds=n),
                }
                for n, (wnid, chain) in enumerate(sorted(chains.items()))
                for voter in voters
            ],
        )
        class_states.refresh_all()
        db.session.commit()
    add_user(app, "ann4")
    with serving(app) as base:
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        browser_log_in(page, base, "ann4")
        some = [c.wnid for c in hierarchy.classes[:: len(hierarchy.classes) // 3]]
        votes_in_browser(page, base, {w: chains[w][-1] for w in some}, chains)
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        # A fresh process computes its first aggregation while the page waits: tens of
        # seconds at this size (the README's growth table).
        page.set_default_timeout(300_000)
        cil = review_and_export(page, base, hierarchy)
    assert len(cil.classes) == 10450
