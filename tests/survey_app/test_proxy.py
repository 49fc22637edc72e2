"""The documented deployment holds against slow clients: gunicorn behind the
repository's nginx configuration (deploy/nginx/cil.conf.template, as
docker-compose runs it), served here by Debian's nginx on 127.0.0.1."""

from __future__ import annotations

import http.client
import http.server
import json
import os
import pwd
import re
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest

from benchmarks import load_votes

from .conftest import load_survey

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "deploy" / "nginx" / "cil.conf.template"
NGINX = Path("/usr/sbin/nginx")
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


def render(template: str, values: dict[str, str]) -> str:
    """What the nginx image's envsubst makes of the template: ${NAME} replaced
    for the names given, nginx's own $variables left as they are."""
    text = template
    for name, value in values.items():
        text = text.replace("${" + name + "}", value)
    left = re.findall(r"\$\{\w+\}", text)
    assert not left, f"the template names {left}, which docker-compose does not set"
    return text


def main_config(folder: Path, site: Path) -> str:
    """A main nginx.conf that includes the site as the nginx image's does (inside
    `http`), with every file nginx writes in `folder`."""
    temp = "\n".join(
        f"    {kind}_temp_path {folder / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    # As root, nginx's workers would run as nobody, who cannot enter pytest's folders.
    user = f"user {pwd.getpwuid(os.getuid()).pw_name};" if os.getuid() == 0 else ""
    return f"""{user}
daemon off;
worker_processes 1;
pid {folder / "nginx.pid"};
error_log {folder / "error.log"} warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
{temp}
    include {site};
}}
"""


@contextmanager
def nginx_in_front(folder: Path, app_port: int) -> Iterator[int]:
    """Debian's nginx with the repository's site configuration on a free port of
    127.0.0.1, proxying to gunicorn on `app_port`: the port it listens on."""
    port = load_votes.free_port()
    compose = (ROOT / "docker-compose.yml").read_text()
    assert "deploy/nginx/cil.conf.template" in compose  # the file docker-compose runs
    site = folder / "cil.conf"
    site.write_text(
        render(
            TEMPLATE.read_text(),
            {"CIL_PROXY_LISTEN": f"127.0.0.1:{port}", "CIL_PROXY_APP": f"127.0.0.1:{app_port}"},
        )
    )
    config = folder / "nginx.conf"
    config.write_text(main_config(folder, site))
    process = subprocess.Popen(
        [str(NGINX), "-p", str(folder), "-c", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 10
        while status(port, timeout=1) != 200:
            assert process.poll() is None, process.stderr.read().decode()
            assert time.monotonic() < deadline, "nginx did not answer /health within 10 s"
            time.sleep(0.1)
        yield port
    finally:
        process.terminate()  # SIGTERM: nginx's fast shutdown
        process.wait(timeout=10)
        process.stderr.close()


def status(port: int, path: str = "/health", timeout: float = 1.0) -> int | None:
    """The status of GET `path`, or None when no answer came within `timeout` seconds."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        connection.close()


@contextmanager
def stalled_bodies(port: int, count: int = STALLED) -> Iterator[None]:
    """`count` clients that send a login form's headers, announcing 100,000
    bytes of body, then send nothing: the slow-client attack."""
    head = (
        b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n"
        b"Content-Length: 100000\r\n\r\n"
    )
    clients = []
    try:
        for _ in range(count):
            client = socket.create_connection(("127.0.0.1", port))
            clients.append(client)
            client.sendall(head)
        time.sleep(0.5)  # time for the server to pick the requests up
        yield
    finally:
        for client in clients:
            with closing(client):
                pass


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
    with stalled_bodies(survey.port):
        assert status(survey.port) is None
    folder = tmp_path / "nginx"
    folder.mkdir()
    with nginx_in_front(folder, survey.port) as port, stalled_bodies(port):
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
