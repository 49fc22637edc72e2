"""The annotate page names the classes a trained model mistakes the class for, when an
admin has set a run's confusion matrix (MODEL_CONFUSION)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import SMALL_CLASSES

from .conftest import CHROMIUM, add_user, browser_log_in, log_in, make_app, seeded, serving

TENCH, GOLDFISH, BRAMBLING, CRANE_BIRD, PUG = (
    "n01440764",
    "n01443537",
    "n01530575",
    "n02012849",
    "n02110958",
)
SHOWN = "The model confuses this class mostly with: goldfish (40 %), brambling (10 %), pug (4 %)."


@pytest.fixture
def confusion_file(tmp_path):
    """50 images a class; of the tench's, 20 taken for goldfish, 5 for brambling, 2 for pug
    and 1 for the crane: three are shown, most first. Rows named by classes.txt, reversed."""
    order = sorted(SMALL_CLASSES, reverse=True)
    at = {wnid: i for i, wnid in enumerate(order)}
    counts = np.diag(np.full(len(order), 50))
    for other, n in ((GOLDFISH, 20), (BRAMBLING, 5), (PUG, 2), (CRANE_BIRD, 1)):
        counts[at[TENCH], at[other]] = n
        counts[at[TENCH], at[TENCH]] -= n
    (tmp_path / "run").mkdir()
    np.save(tmp_path / "run" / "confusion.npy", counts)
    (tmp_path / "run" / "classes.txt").write_text("\n".join(order) + "\n")
    return tmp_path / "run" / "confusion.npy"


def page(tmp_path, small_hierarchy, setting, wnid=TENCH) -> str:
    tmp_path.mkdir(exist_ok=True)
    app = seeded(make_app(tmp_path, MODEL_CONFUSION=setting), small_hierarchy)
    client = log_in(app.test_client(), add_user(app, "ann"))
    return " ".join(client.get(f"/annotate/{wnid}").get_data(as_text=True).split())


def test_the_three_most_confused_classes_are_shown(tmp_path, small_hierarchy, confusion_file):
    assert SHOWN in page(tmp_path, small_hierarchy, str(confusion_file))


def test_nothing_is_shown_without_a_matrix_or_a_mistake(tmp_path, small_hierarchy, confusion_file):
    assert "model confuses" not in page(tmp_path / "a", small_hierarchy, None)
    assert "model confuses" not in page(
        tmp_path / "b", small_hierarchy, str(confusion_file), GOLDFISH
    )


def test_a_wrong_setting_leaves_the_page_working(tmp_path, small_hierarchy, caplog):
    html = page(tmp_path, small_hierarchy, str(tmp_path / "missing.npy"))
    assert "model confuses" not in html and "tench" in html
    assert "MODEL_CONFUSION is not used" in caplog.text


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium")
def test_a_browser_sees_the_confusions(tmp_path, small_hierarchy, confusion_file, browser):
    app = seeded(make_app(tmp_path, MODEL_CONFUSION=str(confusion_file)), small_hierarchy)
    add_user(app, "ann")
    with serving(app) as base:
        tab = browser.new_page()
        browser_log_in(tab, base, "ann")
        tab.wait_for_url(f"{base}/annotate/**")
        tab.goto(f"{base}/annotate/{TENCH}")
        shown = tab.locator(".model-confusions")
        assert shown.is_visible()
        assert " ".join(shown.inner_text().split()) == SHOWN
        tab.close()
