"""The documented deployment holds against slow clients: gunicorn behind the
repository's nginx configuration (deploy/nginx/cil.conf.template, as
docker-compose runs it), served here by Debian's nginx on 127.0.0.1
(benchmarks/slow_clients.py measures the same)."""

from __future__ import annotations

import http.client
import http.server
import json
import threading

import pytest

from benchmarks.slow_clients import NGINX, nginx_in_front, stalled_bodies, status

from .conftest import load_survey

STALLED = 20
# gunicorn's workers in docker-compose (GUNICORN_WORKERS' default), fewer than the stalled clients.
WORKERS = 4

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not NGINX.exists(),
        reason="needs Debian's nginx at /usr/sbin/nginx "
        "(`apt-get install nginx`; `make test` installs it)",
    ),
]


@pytest.fixture
def survey(tmp_path, small_hierarchy):
    survey, _ = load_survey(tmp_path, small_hierarchy, annotators=0)
    survey.workers = WORKERS
    survey.start()
    yield survey
    survey.stop()


def test_stalled_bodies_do_not_reach_gunicorn(survey, tmp_path):
    """Against gunicorn alone the stalled bodies hold every worker and /health
    goes unanswered (the attack works); through the proxy, /health still answers
    within a second, again and again."""
    with stalled_bodies(survey.port, STALLED):
        assert status(survey.port) is None
    folder = tmp_path / "nginx"
    folder.mkdir()
    with nginx_in_front(folder, survey.port) as port, stalled_bodies(port, STALLED):
        assert [status(port) for _ in range(5)] == [200] * 5
        assert status(port, "/login") == 200  # a page, through the same workers


class EchoHeaders(http.server.BaseHTTPRequestHandler):
    """An upstream that answers every GET with the headers it received, as JSON."""

    def do_GET(self) -> None:
        body = json.dumps(dict(self.headers.items())).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def echo_port():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), EchoHeaders)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_port
    server.shutdown()
    thread.join()
    server.server_close()


def forwarded(port: int, headers: dict[str, str]) -> dict[str, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", "/", headers=headers)
        return json.loads(connection.getresponse().read())
    finally:
        connection.close()


def test_forwarded_headers_as_the_app_reads_them(tmp_path, echo_port):
    """nginx passes the Host the client asked for, port included (invitation
    links are built from it), and appends the client's address and scheme to
    what a proxy before it said, so that the app's ProxyFix, trusting the last
    CIL_TRUSTED_PROXIES entries, reads the outermost proxy's view."""
    with nginx_in_front(tmp_path, echo_port) as port:
        direct = forwarded(port, {"Host": "127.0.0.1:8000"})
        behind = forwarded(
            port,
            {
                "Host": "survey.example",
                "X-Forwarded-For": "198.51.100.7",
                "X-Forwarded-Proto": "https",
            },
        )
    assert direct["Host"] == "127.0.0.1:8000"
    assert (direct["X-Forwarded-For"], direct["X-Forwarded-Proto"]) == ("127.0.0.1", "http")
    assert behind["Host"] == "survey.example"
    assert behind["X-Forwarded-For"] == "198.51.100.7, 127.0.0.1"
    assert behind["X-Forwarded-Proto"] == "https, http"
