"""The store's files written by a forked child (`survey_app.store_files.in_child`)."""

from __future__ import annotations

import logging

from survey_app import store_files

from .conftest import make_app


def test_a_child_that_writes_is_waited_for(tmp_path):
    app = make_app(tmp_path)
    written = tmp_path / "written"
    with app.app_context():
        store_files.in_child(lambda: written.write_text("done"))
    assert written.read_text() == "done"  # there once in_child returns


def test_a_child_that_fails_is_logged(tmp_path, caplog):
    def fail():
        raise RuntimeError("cannot pickle")

    app = make_app(tmp_path)
    with app.app_context(), caplog.at_level(logging.WARNING):
        store_files.in_child(fail)
    assert any("failed in its child process" in r.getMessage() for r in caplog.records)
