"""Faults: the app killed mid-load, the database gone and back, a count
provider down. Each checks that nothing acknowledged is lost."""

from __future__ import annotations

import re
import socket
import threading
import time

import pytest

from benchmarks import load_votes
from tests.conftest import POSTGRES_ADDRESS, POSTGRES_HOST

from .conftest import add_user, load_survey, log_in, make_app, pipe, seeded


class FlakyProxy:
    """A TCP forwarder on 127.0.0.1 to PostgreSQL that can be cut and restored,
    as a database server that goes away and comes back."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.port = load_votes.free_port()
        self.connections: list[socket.socket] = []
        self.listener: socket.socket | None = None

    def start(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", self.port), reuse_port=False)
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self.connections += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=pipe, args=(a, b), daemon=True).start()

    def cut(self) -> None:
        self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread
        self.listener.close()
        for connection in self.connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            connection.close()
        self.connections = []


@pytest.mark.postgres
def test_database_gone_gives_503_and_the_app_recovers(tmp_path, small_hierarchy, postgres_url):
    proxy = FlakyProxy(POSTGRES_ADDRESS)
    proxy.start()
    url = postgres_url.replace(POSTGRES_HOST, f"127.0.0.1:{proxy.port}")
    app = seeded(make_app(tmp_path, url), small_hierarchy)
    # The annotate page reads the annotator and their vote from the database on
    # every request (/classes, from the process's caches, would not notice).
    client = log_in(app.test_client(), add_user(app, "ann"))
    annotate = f"/annotate/{small_hierarchy.classes[0].wnid}"
    assert client.get("/health").status_code == 200
    assert client.get(annotate).status_code == 200

    proxy.cut()
    health = client.get("/health")
    assert health.status_code == 503 and health.get_json()["status"] == "unavailable"
    page = client.get(annotate)
    assert page.status_code == 503
    assert "database is not reachable" in page.get_data(as_text=True)

    proxy.start()
    # The pool drops the dead connections one request at a time: a few tries, not one.
    for _attempt in range(50):
        if client.get("/health").status_code == 200:
            break
        time.sleep(0.2)
    else:
        pytest.fail("the app did not recover within 50 tries")
    assert client.get(annotate).status_code == 200
    proxy.cut()
    with app.app_context():
        from survey_app.extensions import db

        db.engine.dispose()


def test_count_provider_down_pages_render_from_cache(app, client, monkeypatch):
    """No page asks a provider: with every provider broken and no connection
    possible, pages still show counts, and nothing tried to reach a service."""
    from clustering import popularity

    def broken(self, term):
        raise AssertionError("a page asked a search-count provider")

    for provider in (
        popularity.WordfreqProvider,
        popularity.WikipediaPageviewsProvider,
        popularity.GoogleCustomSearchProvider,
        popularity.JsonFileProvider,
    ):
        monkeypatch.setattr(provider, "count", broken)
    connections = []

    def unreachable(self, address):
        connections.append(address)
        raise OSError("no network in this test")

    monkeypatch.setattr(socket.socket, "connect", unreachable)
    monkeypatch.setattr(socket.socket, "connect_ex", unreachable)
    page = client.get("/classes?q=dalmatian").get_data(as_text=True)
    assert connections == []
    assert re.search(r"dog\s*<small>\d+(\.\d)?[KMB]</small>", page)


@pytest.mark.slow
def test_sigkill_mid_load_loses_no_acknowledged_vote(tmp_path, imagenet_hierarchy):
    survey, names = load_survey(tmp_path, imagenet_hierarchy, annotators=6)
    url = survey.database_url
    survey.start()
    restarted = []

    def kill_and_restart(elapsed: float) -> None:
        if elapsed > 2 and not restarted:
            survey.kill()
            restarted.append(elapsed)
            survey.start()

    try:
        results, _ = load_votes.run_annotators(
            survey, names, seconds=6, max_votes=10_000, during=kill_and_restart
        )
    finally:
        survey.stop()
    assert restarted, "the server was never killed"
    check = load_votes.verify(url, results)
    assert check["acknowledged"] > 20
    assert check["lost"] == 0 and check["duplicated"] == 0
    assert load_votes.sqlite_integrity(url) == "ok"
    assert results.server_errors == 0
