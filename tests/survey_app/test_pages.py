"""Every page a person can reach, in Chromium at 1280 px and 390 px, on a survey of
all 1,000 ImageNet classes with three annotators' votes on each: no sideways
scroll, no page taller than 6,000 px, no WCAG 2.1 A/AA violation that axe-core
finds, and what a person sees of the defects a team met in its first hour.
Screenshots go to the `screenshots` folder (temporary; `make screenshots`:
docs/screenshots/, shown in the README); the keyboard pace to artifacts/pages/."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from survey_app import accounts
from survey_app.database import hierarchy_from_db
from survey_app.extensions import db
from survey_app.models import Vote

from .conftest import (
    BROWSER_TESTS,
    PASSWORD,
    add_user,
    axe_violations,
    browser_log_in,
    make_app,
    make_image_folder,
    seeded,
    serving,
)

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "pages"
WIDTHS = (1280, 390)
MAX_HEIGHT = 6000
TENCH, DALMATIAN = "n01440764", "n02110341"  # one hypernym path; two

pytestmark = BROWSER_TESTS


def _team_votes(hierarchy) -> list[tuple[str, str, str, str | None]]:
    """(annotator, class, label, comment) for every class: mostly the parent,
    with splits, a few deeper and higher picks (conflicts) and a comment now and then."""
    votes = []
    for i, image_class in enumerate(hierarchy.classes):
        chain = hierarchy.chain_wnids(image_class.wnid)
        parent, grandparent = chain[-2], chain[-3]
        votes.append(("ann1", image_class.wnid, parent, None))
        votes.append(("ann2", image_class.wnid, parent if i % 7 else chain[-1], None))
        votes.append(
            (
                "ann3",
                image_class.wnid,
                grandparent if i % 5 == 0 else parent,
                "not sure about this one" if i % 97 == 0 else None,
            )
        )
    return votes


@pytest.fixture(scope="module")
def site(tmp_path_factory, imagenet_hierarchy):
    """The app with all 1,000 classes, pictures, an admin and three annotators who
    voted on every class, served on a free port of 127.0.0.1."""
    root = tmp_path_factory.mktemp("site")
    wnids = [c.wnid for c in imagenet_hierarchy.classes]
    pictures = make_image_folder(root / "imagenet", wnids[:20], per_class=6, size=(96, 72))
    make_image_folder(pictures, wnids[20:], per_class=1, size=(48, 36))
    app = seeded(make_app(root, IMAGE_SOURCE=str(pictures)), imagenet_hierarchy)
    ids = {name: add_user(app, name) for name in ("ann1", "ann2", "ann3")}
    ids["boss"] = add_user(app, "boss", role="admin")
    start = datetime(2026, 11, 20, 9)
    with app.app_context():
        db.session.add_all(
            Vote(
                annotator_id=ids[name],
                class_wnid=wnid,
                synset_wnid=label,
                comment=comment,
                created_at=start + timedelta(seconds=7 * n),
            )
            for n, (name, wnid, label, comment) in enumerate(_team_votes(hierarchy_from_db()))
        )
        db.session.commit()
        invitation = accounts.create_invitation("annotator")
    with serving(app) as base:
        yield app, base, invitation


def _logged_in(browser, base: str, username: str | None):
    context = browser.new_context(viewport={"width": WIDTHS[0], "height": 900})
    page = context.new_page()
    if username:
        browser_log_in(page, base, username)
    return page


def _measure(page) -> dict:
    return page.evaluate(
        "({width: document.documentElement.scrollWidth,"
        " height: document.documentElement.scrollHeight})"
    )


def _pages(invitation: str) -> list[tuple[str, str | None, str]]:
    """(name, user, path): every page a person reaches, as the role that reaches it."""
    return [
        ("login", None, "/login"),
        ("invitation", None, f"/invite/{invitation}"),
        ("annotate", "ann1", f"/annotate/{TENCH}"),
        ("annotate-paths", "ann1", f"/annotate/{DALMATIAN}"),
        ("my-votes", "ann1", "/"),
        ("classes", "ann1", "/classes"),
        ("account", "ann1", "/account"),
        ("not-found", "ann1", "/annotate/n09999999"),
        ("admin", "boss", "/admin/"),
        ("review", "boss", "/admin/review/"),
        ("review-classes", "boss", "/admin/review/classes"),
        ("review-queue", "boss", "/admin/review/queue"),
        ("review-class", "boss", f"/admin/review/classes/{DALMATIAN}"),
        ("review-overview", "boss", "/admin/review/overview"),
    ]


def test_every_page_fits_both_widths_and_passes_axe(site, browser, screenshots):
    _, base, invitation = site
    pages = {user: _logged_in(browser, base, user) for user in (None, "ann1", "boss")}
    problems = []
    for name, user, path in _pages(invitation):
        page = pages[user]
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            response = page.goto(f"{base}{path}")
            if response.status != (404 if name == "not-found" else 200):
                problems.append(f"{name} at {width} px: HTTP {response.status}")
            size = _measure(page)
            if size["width"] > width:
                problems.append(f"{name} at {width} px: {size['width']} px wide")
            if size["height"] > MAX_HEIGHT:
                problems.append(f"{name} at {width} px: {size['height']} px tall")
            problems.extend(f"{name} at {width} px: {v}" for v in axe_violations(page))
            page.screenshot(path=str(screenshots / f"{name}-{width}.png"), full_page=True)
    assert not problems, "\n".join(problems)


def test_the_settle_forms_fit_both_widths_and_pass_axe(site, browser, screenshots):
    """What opens on the way to a settlement: a conflict's details with its keep/merge
    form in the queue, and the page that asks first where a class decision merges
    another label (settling the tench as "fish" merges "cyprinid", the goldfish's label
    too), reached from the class's page as an admin reaches it."""
    _, base, _ = site
    page = _logged_in(browser, base, "boss")
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"{base}/admin/review/queue")
        page.locator("details.settle summary").first.click()
        assert page.locator("details.settle[open] input[type=radio]").count() > 0
        assert _measure(page)["width"] <= width
        assert axe_violations(page) == []
        page.screenshot(path=str(screenshots / f"review-queue-open-{width}.png"))
        page.goto(f"{base}/admin/review/classes/{TENCH}")
        page.select_option("select[name$=synset]", label="fish")
        page.click("form.settle-class input[type=submit]")
        assert page.locator("h1").inner_text() == "Settle tench as fish?"
        assert _measure(page)["width"] <= width
        assert axe_violations(page) == []
        page.screenshot(path=str(screenshots / f"review-confirm-{width}.png"), full_page=True)


def test_first_admin_page_passes_axe(tmp_path, small_hierarchy, browser):
    """The one-time setup page exists only while no admin does: its own app."""
    from survey_app.accounts import setup_token

    app = seeded(make_app(tmp_path), small_hierarchy)
    with app.app_context():
        token = setup_token()
    with serving(app) as base:
        page = browser.new_page()
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            page.goto(f"{base}/setup/{token}")
            assert page.locator("input[name=username]").count() == 1  # the form, not a 404
            assert _measure(page)["width"] <= width
            assert axe_violations(page) == []


def test_chains_on_classes_stay_inline_and_comments_stay_cells(site, browser):
    """CSS meant for the annotate page once made each chain entry on /classes a
    full-width row and the comment cells flex boxes."""
    _, base, _ = site
    page = _logged_in(browser, base, "ann3")
    page.goto(f"{base}/classes")
    displays = page.eval_on_selector_all(
        "td.chain .candidate", "nodes => [...new Set(nodes.map(n => getComputedStyle(n).display))]"
    )
    assert displays == ["inline"]
    assert _measure(page)["height"] < MAX_HEIGHT
    page.goto(f"{base}/")
    assert page.eval_on_selector("td.comment", "n => getComputedStyle(n).display") == "table-cell"


def test_my_votes_fits_a_phone_and_the_phone_shows_no_key_hints(site, browser):
    _, base, _ = site
    page = _logged_in(browser, base, "ann1")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{base}/")
    assert _measure(page)["width"] <= 390
    when = page.locator("td.when").first.bounding_box()
    assert when["x"] + when["width"] <= 390  # the "When" column is not cut off
    page.goto(f"{base}/annotate/{TENCH}")
    assert page.locator("kbd:visible").count() == 0


def test_the_invitation_link_is_clickable(site, browser):
    _, base, _ = site
    page = _logged_in(browser, base, "boss")
    page.goto(f"{base}/admin/")
    page.click("text=Create invitation link")
    page.locator(".flash.link a").click()
    page.wait_for_url(f"{base}/invite/**")
    assert page.locator("h1").inner_text()


def test_keys_help_overlay_filter_and_guidelines(site, browser):
    """A newcomer's first class: the guidelines above it; `?` opens the key help,
    which keeps the focus and closes with Escape; `/` filters the candidates;
    the number keys and arrows select from the class upward; Enter votes. The
    seconds per vote by keyboard go to artifacts/pages/pace.txt."""
    from survey_app.survey_settings import save_survey_settings

    app, base, _ = site
    add_user(app, "newcomer")
    with app.app_context():
        save_survey_settings("Name what you see, as you would to a child.", "preselect")
    page = _logged_in(browser, base, "newcomer")
    page.goto(f"{base}/next")
    assert page.locator(".guidelines").is_visible()
    assert "as you would to a child" in page.locator(".guidelines").inner_text()
    first = page.url

    page.keyboard.press("?")
    assert page.evaluate("document.getElementById('key-help').open")
    for _ in range(4):  # the focus stays in the overlay
        page.keyboard.press("Tab")
        assert page.evaluate("!!document.activeElement.closest('#key-help')")
    page.keyboard.press("Escape")
    assert not page.evaluate("document.getElementById('key-help').open")

    page.keyboard.press("/")
    page.keyboard.type("fish")
    names = page.locator("li.candidate:visible .name").all_inner_texts()
    assert names and all(
        "fish"
        in (
            page.locator(f"li.candidate:visible >> nth={i}").get_attribute("data-search") + names[i]
        ).lower()
        for i in range(len(names))
    )
    page.keyboard.press("Enter")  # picks the first match, does not vote
    assert page.url == first
    assert page.locator("input[name=synset]:checked").count() == 1
    page.keyboard.press("Escape")
    assert page.locator("li.candidate:visible").count() > len(names)

    page.keyboard.press("1")  # the class itself, at the top
    checked = page.locator("input[name=synset]:checked")
    assert checked.get_attribute("value") == first.rsplit("/", 1)[1]
    page.keyboard.press("ArrowDown")  # one step more general: the parent
    page.keyboard.press("ArrowUp")
    assert checked.get_attribute("value") == first.rsplit("/", 1)[1]

    import time

    started, votes = time.perf_counter(), 10
    for _ in range(votes):
        url = page.url
        page.keyboard.press("2")
        page.keyboard.press("Enter")
        page.wait_for_url(lambda now, was=url: now != was)
    seconds = (time.perf_counter() - started) / votes
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "pace.txt").write_text(
        f"{seconds:.3f} seconds per vote by keyboard ({votes} votes, 1,000 classes)\n"
    )
    assert page.locator(".guidelines").count() == 0  # only on the first class


def test_each_suggestion_mode_in_the_browser(site, browser):
    from survey_app.survey_settings import save_survey_settings

    app, base, _ = site
    add_user(app, "modes")
    page = _logged_in(browser, base, "modes")
    try:
        for mode, checked, badge in (("preselect", 1, 1), ("badge", 0, 1), ("hidden", 0, 0)):
            with app.app_context():
                save_survey_settings("", mode)
            page.goto(f"{base}/annotate/{DALMATIAN}")
            assert page.locator("input[name=synset]:checked").count() == checked, mode
            assert page.locator(".badge.suggested").count() == badge, mode
            if not checked:  # Enter without a choice sends nothing
                page.keyboard.press("Enter")
                assert page.url.endswith(f"/annotate/{DALMATIAN}")
    finally:
        with app.app_context():
            save_survey_settings("", "preselect")


def test_a_new_team_from_first_admin_to_a_valid_cil(tmp_path, small_hierarchy, browser):
    """Issue "The survey for a real team", done when: the first admin invites three
    annotators from the pages, they vote on every class by keyboard, the admin
    finds the splits and conflicts from the nav, settles them, and the exported
    CIL passes `validate`."""
    from clustering.cil import cil_from_json
    from clustering.validate import validate_cil
    from survey_app.accounts import setup_token

    app = seeded(make_app(tmp_path), small_hierarchy)
    with app.app_context():
        token = setup_token()

    def sign_up(page, path: str, username: str) -> None:
        page.goto(f"{base}{path}")
        page.fill("#username", username)
        page.fill("#password", PASSWORD)
        page.fill("#confirm", PASSWORD)
        with page.expect_navigation():
            page.keyboard.press("Enter")

    with serving(app) as base:
        admin = browser.new_context().new_page()
        sign_up(admin, f"/setup/{token}", "lead")
        links = []
        for _ in range(3):
            admin.goto(f"{base}/admin/")
            admin.click("text=Create invitation link")
            links.append(admin.locator(".flash.link a").get_attribute("href"))
        n_classes = len(small_hierarchy.classes)
        for number, link in enumerate(links):
            page = browser.new_context().new_page()
            sign_up(page, link.removeprefix(base), f"member{number}")
            for k in range(n_classes):  # member0 and member1 agree; member2 often not
                if page.url.endswith("/done"):  # the queue closes classes the others agree on
                    break
                url = page.url
                page.keyboard.press("3" if number == 2 and k % 2 else "2")
                page.keyboard.press("Enter")
                page.wait_for_url(lambda now, was=url: now != was)
            assert page.url.endswith("/done")

        admin.goto(f"{base}/admin/")
        admin.click("nav >> text=Review")
        admin.click("text=Disagreements")
        accept_all = admin.locator("form.accept-all button")
        if accept_all.count():  # every conflict as proposed, in one click
            accept_all.click()
        assert admin.locator("ol.conflict-rows").count() == 0
        for _ in range(n_classes):  # the splits settled as the votes' label, one by one
            settle = admin.locator("table.queue input[type=submit]")
            if not settle.count():
                break
            settle.first.click()
        assert "Nothing to settle" in admin.locator("main").inner_text()
        admin.click("text=Summary")
        assert "0 open" in admin.locator("h2").all_inner_texts()[-1]
        response = admin.request.get(f"{base}/admin/review/download/cil.json")
        assert validate_cil(cil_from_json(response.json()), small_hierarchy).ok
