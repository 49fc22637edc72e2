"""The annotator's keys in a real browser: the key help on a phone, and the
comment box's key. Screenshots go to artifacts/annotator/ (CI keeps them)."""

from pathlib import Path

import pytest
from sqlalchemy import select

from survey_app.database import hierarchy_from_db
from survey_app.extensions import db
from survey_app.models import Vote

from .conftest import BROWSER_TESTS, add_user, browser_log_in, make_app, seeded, serving

SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "annotator"
TENCH, DALMATIAN = "n01440764", "n02110341"
PHONE = {"width": 390, "height": 844}

pytestmark = BROWSER_TESTS


@pytest.fixture(scope="module")
def site(tmp_path_factory, small_hierarchy):
    """The app on the small hierarchy, served on a free port of 127.0.0.1."""
    app = seeded(make_app(tmp_path_factory.mktemp("annotator")), small_hierarchy)
    with serving(app) as base:
        yield app, base


def _page(browser, site, username: str, viewport: dict):
    app, base = site
    add_user(app, username)
    page = browser.new_context(viewport=viewport).new_page()
    browser_log_in(page, base, username)
    return page


def test_the_key_help_is_readable_on_a_phone(site, browser):
    """The key caps vanished at 390 px ("– select a candidate")."""
    _, base = site
    page = _page(browser, site, "phone", PHONE)
    page.goto(f"{base}/annotate/{DALMATIAN}")
    page.click("#open-help")  # the "Keys" button: a phone has no `?` to press
    help_box = page.locator("#key-help")
    assert help_box.is_visible()
    caps = help_box.locator("kbd")
    assert caps.count() >= 10
    for box in (caps.nth(i).bounding_box() for i in range(caps.count())):
        assert box and box["width"] > 0 and box["height"] > 0
        assert 0 <= box["x"] and box["x"] + box["width"] <= PHONE["width"]
    assert help_box.locator("dt").first.inner_text().strip() == "1–9"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "key-help-390.png"))


def test_the_comment_key_and_the_comment_after_the_chain(site, browser):
    """`C` focuses the comment box; what is typed there stays text, not keys;
    `Esc` goes back to the candidates, `Enter` votes with the comment. Tab goes
    from the chosen candidate to the comment box, not through the page."""
    app, base = site
    page = _page(browser, site, "commenter", {"width": 1280, "height": 900})
    with app.app_context():
        chain = hierarchy_from_db().chain_wnids(TENCH)
    page.goto(f"{base}/annotate/{TENCH}")
    page.keyboard.press("2")  # the parent
    page.keyboard.press("c")
    assert page.evaluate("document.activeElement.id") == "comment"
    page.keyboard.type("S is not skip, 1 not a key / nor ?")
    assert page.url == f"{base}/annotate/{TENCH}"
    assert page.locator("#comment").input_value() == "S is not skip, 1 not a key / nor ?"
    assert page.locator("input[name=synset]:checked").get_attribute("value") == chain[-2]
    assert not page.evaluate("document.getElementById('key-help').open")
    assert page.locator("#chain-filter").input_value() == ""

    page.keyboard.press("Escape")  # back to the candidates, where the keys work
    assert page.evaluate("document.activeElement.value") == chain[-2]
    page.keyboard.press("3")
    tabs = 0
    while page.evaluate("document.activeElement.id") != "comment" and tabs < 20:
        page.keyboard.press("Tab")
        tabs += 1
    assert tabs <= 2  # past the "more general" row at most

    page.keyboard.press("Enter")  # Enter in the comment box votes
    page.wait_for_url(lambda url: url != f"{base}/annotate/{TENCH}")
    with app.app_context():
        votes = [(v.class_wnid, v.synset_wnid, v.comment) for v in db.session.scalars(select(Vote))]
    assert votes == [(TENCH, chain[-3], "S is not skip, 1 not a key / nor ?")]
