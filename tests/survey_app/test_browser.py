"""A real browser, keyboard only: accept an invitation, vote on three classes,
go back and change one vote; the database then holds exactly the latest votes.
Saves screenshots of the annotate page to artifacts/ (CI keeps them)."""

from pathlib import Path

import pytest
from sqlalchemy import select

from survey_app import accounts
from survey_app.database import hierarchy_from_db
from survey_app.extensions import db
from survey_app.models import Vote

from .conftest import BROWSER_TESTS, PASSWORD, make_app, make_image_folder, seeded, serving

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
TENCH, GOLDFISH, OSTRICH, BRAMBLING = "n01440764", "n01443537", "n01518878", "n01530575"
DALMATIAN = "n02110341"

pytestmark = BROWSER_TESTS


@pytest.fixture
def served(tmp_path, small_hierarchy):
    """The app with a generated ImageFolder, served on a free port of 127.0.0.1."""
    with_pictures = [c.wnid for c in small_hierarchy.classes if c.wnid != "n04487081"]
    images = make_image_folder(tmp_path / "imagenet", with_pictures, per_class=6)
    app = seeded(make_app(tmp_path, IMAGE_SOURCE=str(images)), small_hierarchy)
    with serving(app) as base:
        yield app, base


def test_keyboard_only_votes_and_a_changed_mind(served, browser):
    app, base = served
    with app.app_context():
        token = accounts.create_invitation("annotator")
        chains = {w: hierarchy_from_db().chain_wnids(w) for w in (TENCH, GOLDFISH, OSTRICH)}
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))

    page.goto(f"{base}/invite/{token}")
    page.keyboard.type("keyboard-kim")  # the username field has the focus
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/annotate/{TENCH}")

    page.keyboard.press("1")  # the class itself
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/annotate/{GOLDFISH}")
    page.keyboard.press("2")  # its parent
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/annotate/{OSTRICH}")
    page.keyboard.press("3")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/annotate/{BRAMBLING}")

    page.keyboard.press("Backspace")
    page.wait_for_url(f"{base}/annotate/{OSTRICH}")
    assert (
        page.locator('input[name="synset"]:checked').get_attribute("value") == chains[OSTRICH][-3]
    )  # the earlier vote is pre-selected
    page.keyboard.press("ArrowUp")  # one step more specific (up the list): the parent
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/annotate/{BRAMBLING}")

    with app.app_context():
        rows = [
            (v.class_wnid, v.synset_wnid)
            for v in db.session.scalars(select(Vote).order_by(Vote.id))
        ]
    assert rows == [
        (TENCH, chains[TENCH][-1]),
        (GOLDFISH, chains[GOLDFISH][-2]),
        (OSTRICH, chains[OSTRICH][-3]),
        (OSTRICH, chains[OSTRICH][-2]),
    ]
    latest = dict(rows)  # later rows overwrite earlier ones: the latest vote per class
    assert latest == {
        TENCH: chains[TENCH][-1],
        GOLDFISH: chains[GOLDFISH][-2],
        OSTRICH: chains[OSTRICH][-2],
    }
    assert errors == []

    ARTIFACTS.mkdir(exist_ok=True)
    page.goto(f"{base}/annotate/{DALMATIAN}")
    assert page.locator(".class-images img").count() == 6
    page.wait_for_load_state("networkidle")
    assert page.evaluate(
        "Array.from(document.querySelectorAll('.class-images img'))"
        ".every(image => image.complete && image.naturalWidth > 0)"
    )
    page.screenshot(path=str(ARTIFACTS / "annotate.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scroll
    page.screenshot(path=str(ARTIFACTS / "annotate-phone.png"), full_page=True)
