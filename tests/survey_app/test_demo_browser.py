"""The demo page in Chromium: an admin finds it in the menu, uploads a picture and reads its
labels beside it; an oversized file and a non-image are refused with a message. No console
error (a CSP violation would be one, the preview's data: picture included), no sideways
scroll at 390 px, no axe-core violation; the screenshots go to the `screenshots` folder
(temporary; `make screenshots`: docs/screenshots/demo-1280.png and -390.png, in the README)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from .conftest import (
    BROWSER_TESTS,
    add_user,
    axe_violations,
    browser_log_in,
    make_app,
    make_image_folder,
    seeded,
    serving,
)
from .handmade_classifier import write_handmade_classifier

README_SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

pytestmark = BROWSER_TESTS
pytest.importorskip("onnxruntime", reason="the demo extra: pip install -e '.[demo]'")
pytest.importorskip("onnx", reason="the export extra makes the hand-made classifier")


@pytest.fixture
def served(tmp_path, small_hierarchy):
    write_handmade_classifier(tmp_path / "runs" / "colours" / "model.onnx")
    images = make_image_folder(tmp_path / "imagenet", ["n01440764"], per_class=2)
    app = seeded(
        make_app(
            tmp_path,
            DEMO_RUNS=str(tmp_path / "runs"),
            DEMO_KEEP_DIR=str(tmp_path / "kept"),
            IMAGE_SOURCE=str(images),
        ),
        small_hierarchy,
    )
    add_user(app, "boss", role="admin")
    with serving(app) as base:
        yield base


@pytest.fixture
def page(served, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.errors = []
    page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))
    browser_log_in(page, served, "boss")
    page.goto(f"{served}/demo/")
    yield page
    page.close()


def test_an_admin_classifies_an_upload(page, tmp_path, screenshots):
    readme_shots = {path: path.stat().st_mtime_ns for path in README_SHOTS.glob("demo-*")}
    page.click("nav >> text=Demo")  # from the menu, as an admin finds it
    photo = tmp_path / "sea.jpg"
    sea = Image.new("RGB", (640, 480), (40, 60, 220))
    draw = ImageDraw.Draw(sea)
    for y in range(200):  # a pale sky over the sea, and a sail
        draw.line([(0, y), (640, y)], fill=(120 + y // 4, 170 + y // 5, 240))
    draw.polygon([(300, 150), (300, 300), (390, 300)], fill=(245, 245, 235))
    draw.rectangle([(270, 300), (410, 320)], fill=(90, 50, 30))
    sea.save(photo)
    page.set_input_files("#picture", str(photo))
    page.click("button.primary")
    page.wait_for_selector(".demo-result")
    heads = page.locator("table.demo-head")
    assert heads.count() == 2
    assert heads.nth(0).locator("td").first.inner_text().strip() == "blue things"
    assert "tiger shark" in heads.nth(1).locator("td").first.inner_text()
    assert page.locator("meter").count() == 7
    preview = page.locator(".demo-result img.demo-picture")
    assert preview.evaluate("img => [img.complete, img.naturalWidth]") == [True, 256]
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    assert axe_violations(page) == []
    page.screenshot(path=str(screenshots / "demo-1280.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(screenshots / "demo-390.png"), full_page=True)
    assert page.errors == []
    assert not (tmp_path / "kept").exists()
    if screenshots != README_SHOTS.resolve():  # the tests leave the tree as it was
        after = {path: path.stat().st_mtime_ns for path in README_SHOTS.glob("demo-*")}
        assert after == readme_shots


def test_an_oversized_file_and_a_non_image_are_refused(page, tmp_path):
    big = tmp_path / "big.png"
    big.write_bytes(bytes(9 * 2**20))  # the default limit is 8 MB
    page.set_input_files("#picture", str(big))
    page.click("button.primary")
    page.wait_for_selector("text=The file is larger than 8 MB.")
    text = tmp_path / "notes.png"
    text.write_text("not a picture")
    page.set_input_files("#picture", str(text))
    page.click("button.primary")
    page.wait_for_selector(
        "text=notes.png cannot be read as an image: it is not a JPEG, PNG or WebP picture"
    )
    assert page.locator(".demo-result").count() == 0
    assert [e for e in page.errors if "status of 4" not in e] == []  # 413 and 400 are meant
