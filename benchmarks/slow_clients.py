"""Slow clients against the survey: N connections send a login form's headers,
announcing a 100,000-byte body, and then nothing, while /health is asked for;
against gunicorn alone (gunicorn.conf.py, --workers of them) and through the
repository's nginx configuration (deploy/nginx/cil.conf.template, as
docker-compose runs it) served by Debian's nginx, all on 127.0.0.1.

Prints /health's answer time with and without the stalled clients, both ways;
"no answer" when none came within --timeout seconds. Needs /usr/sbin/nginx
(`apt-get install nginx`).

    .venv/bin/python benchmarks/slow_clients.py                # 20 stalled, 4 workers
    .venv/bin/python benchmarks/slow_clients.py --stalled 5
"""

from __future__ import annotations

import argparse
import http.client
import os
import pwd
import re
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from benchmarks.load_votes import ROOT, Survey, free_port, hierarchy_file

TEMPLATE = ROOT / "deploy" / "nginx" / "cil.conf.template"
NGINX = Path("/usr/sbin/nginx")
STALLED_HEAD = (
    b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    b"Content-Type: application/x-www-form-urlencoded\r\n"
    b"Content-Length: 100000\r\n\r\n"
)


def render(template: str, values: dict[str, str]) -> str:
    """What the nginx image's envsubst makes of the template: ${NAME} replaced
    for the names given, nginx's own $variables left as they are."""
    text = template
    for name, value in values.items():
        text = text.replace("${" + name + "}", value)
    left = re.findall(r"\$\{\w+\}", text)
    if left:
        raise ValueError(f"the template names {left}, which were not given")
    return text


def main_config(folder: Path, site: Path) -> str:
    """A main nginx.conf that includes the site as the nginx image's does (inside
    `http`), with every file nginx writes in `folder`."""
    temp = "\n".join(
        f"    {kind}_temp_path {folder / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    # As root, nginx's workers would run as nobody, who may not enter `folder`.
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
def nginx_in_front(folder: Path, app_port: int) -> Iterator[int]:
    """Debian's nginx with the repository's site configuration on a free port of
    127.0.0.1, proxying to `app_port`, once it answers /health: the port it
    listens on."""
    port = free_port()
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
        while status(port) != 200:
            if process.poll() is not None:
                raise RuntimeError(f"nginx exited: {process.stderr.read().decode()}")
            if time.monotonic() > deadline:
                raise RuntimeError("nginx did not answer /health within 10 s")
            time.sleep(0.1)
        yield port
    finally:
        process.terminate()  # SIGTERM: nginx's fast shutdown
        process.wait(timeout=10)
        process.stderr.close()


@contextmanager
def stalled_bodies(port: int, count: int) -> Iterator[None]:
    """`count` clients that send a login form's headers, announcing 100,000
    bytes of body, then send nothing until the block ends."""
    clients = []
    try:
        for _ in range(count):
            client = socket.create_connection(("127.0.0.1", port))
            clients.append(client)
            client.sendall(STALLED_HEAD)
        time.sleep(0.5)  # time for the server to pick the requests up
        yield
    finally:
        for client in clients:
            with closing(client):
                pass


def health_seconds(port: int, timeout: float) -> float | None:
    """Seconds /health took to answer 200, or None."""
    start = time.perf_counter()
    answered = status(port, timeout=timeout) == 200
    return time.perf_counter() - start if answered else None


def measure(port: int, stalled: int, timeout: float) -> tuple[float | None, float | None]:
    """/health's answer time alone, and with `stalled` clients stalled."""
    alone = health_seconds(port, timeout)
    with stalled_bodies(port, stalled):
        return alone, health_seconds(port, timeout)


def shown(seconds: float | None, timeout: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds is not None else f"no answer in {timeout:g} s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--stalled", type=int, default=20, help="stalled clients")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--timeout", type=float, default=10, help="seconds to wait for /health")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="cil-slow-") as tmp:
        workdir = Path(tmp)
        survey = Survey(
            f"sqlite:///{workdir / 'survey.sqlite3'}", workdir, hierarchy_file(), args.workers
        )
        survey.prepare(0)
        survey.start()
        try:
            figures = {"gunicorn alone": measure(survey.port, args.stalled, args.timeout)}
            with nginx_in_front(workdir, survey.port) as port:
                figures["through nginx"] = measure(port, args.stalled, args.timeout)
        finally:
            survey.stop()
    print(f"/health, gunicorn with {args.workers} workers, {args.stalled} stalled bodies:")
    for way, (alone, stalled) in figures.items():
        print(
            f"  {way:15} alone {shown(alone, args.timeout):>20}"
            f"   with the stalled clients {shown(stalled, args.timeout):>20}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
