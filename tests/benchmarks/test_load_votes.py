"""The load test's server handling, without a survey: a gunicorn that never answers."""

from __future__ import annotations

import pytest

from benchmarks import load_votes


def test_a_server_that_never_answers_is_stopped_when_the_start_gives_up(tmp_path, monkeypatch):
    fake = tmp_path / "bin" / "gunicorn"  # starts, but serves nothing on the port
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\nexec sleep 60\n")
    fake.chmod(0o755)
    monkeypatch.setattr(load_votes, "VENV_BIN", fake.parent)
    survey = load_votes.Survey("sqlite:///unused.sqlite3", tmp_path, tmp_path / "h.json")
    try:
        with pytest.raises(RuntimeError, match="did not answer /health within 0.5 s"):
            survey.start(timeout=0.5)
        assert survey.process.poll() is not None  # no server left holding the port
    finally:
        survey.kill()
