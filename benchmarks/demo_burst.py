"""The demo page under a burst of uploads: N clients post a picture at the same moment to
the development server (werkzeug, threaded, in a process of its own), or to gunicorn
(gunicorn.conf.py, --workers processes), the page public, a hand-made ONNX classifier, while
another client asks /health every 0.1 s.

Prints the server's resident memory before the burst, at its peak (the kernel's VmHWM; under
gunicorn the sum of each process's peak, an upper bound) and after it, the answers' statuses,
and /health's slowest and median answer during the burst.
The pictures: `png-bomb`, a 170 kB PNG of 6,300 x 6,300 RGBA (40 megapixels of one colour);
`photo`, a 430 kB JPEG of 6,000 x 4,000; `mixed`, half of each.

    .venv/bin/python benchmarks/demo_burst.py                   # 20 clients, mixed
    .venv/bin/python benchmarks/demo_burst.py --rate-limit ''      # every upload decoded
    .venv/bin/python benchmarks/demo_burst.py --picture png-bomb --max-pixels 40000000
    .venv/bin/python benchmarks/demo_burst.py --server gunicorn --workers 4

Memory is the kernel's count, the same whatever else the machine runs; /health's times are
the shared machine's, and vary with what else runs on it.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import requests
from PIL import Image

REPOSITORY = Path(__file__).resolve().parents[1]
CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')

SERVER = """
import json, sys
from flask_migrate import upgrade
from werkzeug.serving import make_server
from survey_app import create_app

app = create_app(json.loads(sys.argv[1]))
with app.app_context():
    upgrade()
server = make_server("127.0.0.1", 0, app, threaded=True)
print(server.server_port, flush=True)
server.serve_forever()
"""


def png_bomb() -> bytes:
    """Small on the wire, 40 megapixels decoded: the issue's 154 kB PNG, near enough."""
    stream = io.BytesIO()
    Image.new("RGBA", (6300, 6300), (200, 30, 30, 255)).save(stream, "PNG")
    return stream.getvalue()


def photo() -> bytes:
    """A 24-megapixel JPEG, as a phone takes."""
    y, x = np.mgrid[0:4000, 0:6000]
    pixels = np.stack([(x // 24) % 256, (y // 16) % 256, ((x + y) // 40) % 256], -1)
    stream = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8)).save(stream, "JPEG", quality=90)
    return stream.getvalue()


PICTURES = {"png-bomb": ("bomb.png", png_bomb), "photo": ("photo.jpg", photo)}


def pictures(kind: str, clients: int) -> list[tuple[str, bytes]]:
    """What each client uploads."""
    made = {name: (filename, make()) for name, (filename, make) in PICTURES.items()}
    if kind != "mixed":
        return [made[kind]] * clients
    return [made["png-bomb" if i % 2 == 0 else "photo"] for i in range(clients)]


def _processes(pid: int) -> list[int]:
    """`pid` and its children (gunicorn's workers)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # a process that ended meanwhile
            continue
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return [pid, *children]


def memory_mb(pid: int) -> dict[str, float]:
    """VmRSS (resident now) and VmHWM (the most it has been resident) of the server's
    processes, summed, in MB."""
    total = dict.fromkeys(("VmRSS", "VmHWM"), 0.0)
    for process in _processes(pid):
        status = Path(f"/proc/{process}/status").read_text()
        for key in total:
            total[key] += int(re.search(rf"{key}:\s+(\d+) kB", status).group(1)) / 1024
    return total


def _settings(folder: Path, settings: dict) -> dict:
    """The demo's settings for a served app, its hand-made classifier written."""
    from tests.survey_app.handmade_classifier import write_handmade_classifier

    write_handmade_classifier(folder / "runs" / "colours" / "model.onnx")
    return {
        "DEMO_PUBLIC": True,
        "DEMO_RUNS": str(folder / "runs"),
        "DEMO_KEEP_DIR": str(folder / "kept"),
        **settings,
    }


@contextmanager
def served(folder: Path, **settings) -> Iterator[tuple[str, int]]:
    """The demo page served by the development server in a process of its own: its base
    URL and process id."""
    config = {
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'demo.sqlite3'}",
        "SECRET_KEY": "benchmark",
        **_settings(folder, settings),
    }
    environment = {**os.environ, "PYTHONPATH": str(REPOSITORY)}
    process = subprocess.Popen(
        [sys.executable, "-c", SERVER, json.dumps(config)],
        cwd=folder,
        env=environment,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        port = int(process.stdout.readline())
        yield f"http://127.0.0.1:{port}", process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)
        process.stdout.close()


MIGRATE = """
from flask_migrate import upgrade
from survey_app import create_app
with create_app().app_context():
    upgrade()
"""


@contextmanager
def served_by_gunicorn(folder: Path, workers: int, **settings) -> Iterator[tuple[str, int]]:
    """The demo page under gunicorn, as deployed: its base URL and the master's process id."""
    from benchmarks.load_votes import free_port

    environment = {
        **os.environ,
        "PYTHONPATH": str(REPOSITORY),
        "DATABASE_URL": f"sqlite:///{folder / 'demo.sqlite3'}",
        "SECRET_KEY": "benchmark",
        **{
            f"CIL_{name}": value if isinstance(value, str) else json.dumps(value)
            for name, value in _settings(folder, settings).items()
        },
    }
    subprocess.run([sys.executable, "-c", MIGRATE], cwd=folder, env=environment, check=True)
    port = free_port()
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "--config",
            str(REPOSITORY / "gunicorn.conf.py"),
            "--workers",
            str(workers),
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "survey_app:create_app()",
        ],
        cwd=folder,
        env=environment,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):  # a minute for the workers to start
            try:
                if requests.get(f"{base}/health", timeout=5).ok:
                    break
            except requests.RequestException:  # not listening yet, or still starting
                time.sleep(0.1)
        yield base, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


@dataclass
class Burst:
    before_mb: float  # resident before the burst, after a first upload warmed the model
    peak_mb: float  # the most resident at any time (VmHWM), the burst included
    after_mb: float  # resident once every answer has come
    statuses: Counter  # the uploads' HTTP statuses
    messages: Counter  # the refusals' messages
    health_idle_s: float  # the median of five before the burst
    health_max_s: float
    health_median_s: float
    seconds: float  # from the first upload sent to the last answer


def _upload(session: requests.Session, base: str, filename: str, content: bytes):
    token = CSRF_RE.search(session.get(f"{base}/demo/", timeout=60).text).group(1)
    return session.post(
        f"{base}/demo/",
        data={"csrf_token": token, "run": "colours"},
        files={"picture": (filename, content)},
        timeout=300,
    )


def burst(base: str, pid: int, uploads: list[tuple[str, bytes]]) -> Burst:
    """Every client opens the page, then all post at once; /health is asked meanwhile."""
    small = io.BytesIO()
    Image.new("RGB", (64, 64), (10, 10, 200)).save(small, "PNG")
    assert _upload(requests.Session(), base, "warm.png", small.getvalue()).status_code == 200
    before = memory_mb(pid)["VmRSS"]
    idle = []
    for _ in range(5):
        asked = time.perf_counter()
        requests.get(f"{base}/health", timeout=60).raise_for_status()
        idle.append(time.perf_counter() - asked)
    sessions = [requests.Session() for _ in uploads]
    tokens = [CSRF_RE.search(s.get(f"{base}/demo/", timeout=60).text).group(1) for s in sessions]
    start = threading.Barrier(len(uploads) + 1)
    answers: list[requests.Response | None] = [None] * len(uploads)

    def client(i: int) -> None:
        filename, content = uploads[i]
        start.wait()
        answers[i] = sessions[i].post(
            f"{base}/demo/",
            data={"csrf_token": tokens[i], "run": "colours"},
            files={"picture": (filename, content)},
            timeout=300,
        )

    threads = [threading.Thread(target=client, args=(i,)) for i in range(len(uploads))]
    for thread in threads:
        thread.start()
    health: list[float] = []
    start.wait()
    started = time.perf_counter()
    while any(thread.is_alive() for thread in threads):
        asked = time.perf_counter()
        requests.get(f"{base}/health", timeout=120).raise_for_status()
        health.append(time.perf_counter() - asked)
        time.sleep(0.1)
    seconds = time.perf_counter() - started
    for thread in threads:
        thread.join()
    time.sleep(0.5)  # the last answers' request threads end
    after = memory_mb(pid)
    messages = Counter(
        match.group(1)
        for answer in answers
        if answer.status_code != 200
        and (match := re.search(r'<p class="flash error">([^<]*)</p>', answer.text))
    )
    return Burst(
        before,
        after["VmHWM"],
        after["VmRSS"],
        Counter(answer.status_code for answer in answers),
        messages,
        statistics.median(idle),
        max(health),
        statistics.median(health),
        seconds,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=20, help="default: 20")
    parser.add_argument("--picture", choices=(*PICTURES, "mixed"), default="mixed")
    parser.add_argument(
        "--max-pixels", type=int, help="CIL_DEMO_MAX_PIXELS for the server (default: the app's)"
    )
    parser.add_argument(
        "--rate-limit", help="CIL_DEMO_RATE_LIMIT for the server ('': none; default: the app's)"
    )
    parser.add_argument("--server", choices=("development", "gunicorn"), default="development")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn's (default: 4)")
    args = parser.parse_args()
    settings = {"DEMO_MAX_PIXELS": args.max_pixels} if args.max_pixels else {}
    if args.rate_limit is not None:
        settings["DEMO_RATE_LIMIT"] = args.rate_limit
    with tempfile.TemporaryDirectory() as folder:
        server = (
            served_by_gunicorn(Path(folder), args.workers, **settings)
            if args.server == "gunicorn"
            else served(Path(folder), **settings)
        )
        with server as (base, pid):
            result = burst(base, pid, pictures(args.picture, args.clients))
    workers = f" ({args.workers} workers)" if args.server == "gunicorn" else ""
    print(f"{args.server} server{workers}, {args.clients} clients, {args.picture}, ", end="")
    print(settings or "default settings")
    print(
        f"server memory: {result.before_mb:.0f} MB before, {result.peak_mb:.0f} MB peak, "
        f"{result.after_mb:.0f} MB after"
    )
    print(f"answers: {dict(result.statuses)} in {result.seconds:.1f} s; {dict(result.messages)}")
    print(
        f"/health during the burst: slowest {result.health_max_s * 1000:.0f} ms, "
        f"median {result.health_median_s * 1000:.0f} ms "
        f"(before it: {result.health_idle_s * 1000:.0f} ms)"
    )


if __name__ == "__main__":
    main()
