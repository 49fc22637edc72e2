"""The published human labels signed off in the browser, as a team would: three
annotators who agree on every class vote the original project's labels (978
classes on their chain), the admin opens Disagreements in Chromium, clicks
"Accept all" once, and downloads a valid CIL in which every class keeps its
vote unless a label decision merged or moved it, and every decision holds."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import insert

from clustering.cil import cil_from_json
from clustering.human_labels import read_human_labels
from clustering.validate import validate_cil
from survey_app.aggregation import current_aggregation
from survey_app.extensions import db
from survey_app.models import Vote

from .conftest import BROWSER_TESTS, add_user, browser_log_in, make_app, seeded, serving

pytestmark = BROWSER_TESTS
MAX_ROWS = 100  # the old queue listed 603 classes for these labels


def test_the_published_labels_signed_off_in_the_browser(tmp_path, imagenet_hierarchy, browser):
    labels = read_human_labels(None, imagenet_hierarchy).labels
    app = seeded(make_app(tmp_path), imagenet_hierarchy)
    voters = [add_user(app, name) for name in ("ann1", "ann2", "ann3")]
    add_user(app, "boss", role="admin")
    start = datetime(2026, 11, 20, 9)
    with app.app_context():  # one INSERT of every vote: the browser is the point here
        db.session.execute(
            insert(Vote),
            [
                {
                    "annotator_id": voter,
                    "class_wnid": wnid,
                    "synset_wnid": label,
                    "created_at": start + timedelta(seconds=n),
                }
                for n, (wnid, label) in enumerate(sorted(labels.items()))
                for voter in voters
            ],
        )
        db.session.commit()

    with serving(app) as base:
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        browser_log_in(page, base, "boss")
        page.goto(f"{base}/admin/review/queue?per_page=200")  # every row on one page
        rows = (
            page.locator("li.conflict-row").count() + page.locator("table.queue tbody tr").count()
        )
        heading = page.locator("h1 small").inner_text()
        print(f"\nDisagreements for the published labels: {rows} rows ({heading})")
        assert sum(map(int, re.findall(r"\d+", heading))) == rows
        assert 0 < rows <= MAX_ROWS
        with page.expect_navigation():
            page.click("text=/^Accept all/")
        assert "Nothing to settle" in page.locator("main").inner_text()
        cil_json = page.request.get(f"{base}/admin/review/download/cil.json").json()

    cil = cil_from_json(cil_json)
    assert validate_cil(cil, imagenet_hierarchy).ok
    by_index = cil.label_by_index()
    changed = {
        c.wnid: c.reason
        for c in cil.classes
        if c.wnid in labels and by_index[c.label_index].wnid != labels[c.wnid]
    }
    print(f"{len(changed)} of {len(labels)} classes exported other than their unanimous vote")
    assert all(reason and "label decision" in reason for reason in changed.values()), changed
    with app.app_context():
        assert current_aggregation().resolution.broken == ()
