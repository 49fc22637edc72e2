"""The load test's server handling and figures, without a survey: a gunicorn that never
answers, the CPU capacity."""

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


def test_the_start_counts_the_sockets_listening_on_the_port(tmp_path):
    """One per worker (reuse_port): the start waits for all of them, so that no
    annotator's connection is made while only some workers take connections."""
    import socket

    survey = load_votes.Survey("sqlite:///unused.sqlite3", tmp_path, tmp_path / "h.json")
    assert survey.listening() == 0
    sockets = []
    for _ in range(2):
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        listener.bind(("127.0.0.1", survey.port))
        listener.listen()
        sockets.append(listener)
    try:
        assert survey.listening() == 2
    finally:
        for listener in sockets:
            listener.close()


def test_the_cpu_capacity_counts_the_server_and_the_annotators(monkeypatch):
    monkeypatch.setattr(load_votes.os, "cpu_count", lambda: 2)
    assert load_votes.cpu_capacity({"app": 6.0, "database": 3.0}, 1.0) == 200
    assert load_votes.cpu_capacity({"app": 8.0}, None) == 250
