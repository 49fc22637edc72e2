"""The login limits hold under concurrency and behind a reverse proxy, and
password hashing, deliberately slow, runs a bounded number at a time."""

from __future__ import annotations

import http.client
import socket
import threading
import time
from http.cookies import SimpleCookie
from urllib.parse import urlencode

import pytest

from benchmarks import load_votes
from survey_app import accounts

from .conftest import PASSWORD, add_user, csrf_token, make_app, pipe, seeded

PARALLEL = 60
# Slow enough that every attempt is in flight before the first one is counted:
# what let 16-19 of them past a limit of 5.
SLOW_HASH = "pbkdf2:sha256:40000"


def parallel_logins(app, attempts: list[tuple[str, str]]) -> list[int]:
    """Each (username, password) from its own client, all posted at once."""
    clients = [app.test_client() for _ in attempts]
    tokens = [csrf_token(client) for client in clients]
    start = threading.Barrier(len(attempts))
    statuses: list[int] = [0] * len(attempts)

    def attempt(number: int) -> None:
        username, password = attempts[number]
        start.wait()
        statuses[number] = (
            clients[number]
            .post(
                "/login",
                data={"csrf_token": tokens[number], "username": username, "password": password},
            )
            .status_code
        )

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(len(attempts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def test_parallel_guesses_for_one_user_stay_within_the_limit(either_app):
    app = either_app
    app.config["PASSWORD_HASH_METHOD"] = SLOW_HASH
    add_user(app, "ann")
    statuses = parallel_logins(app, [("ann", f"guess {n}") for n in range(PARALLEL)])
    assert set(statuses) <= {401, 429}
    # Attempts refused at once may have stopped others too; the guesses that
    # were checked count, and with the ones still allowed make the limit.
    while (status := parallel_logins(app, [("ann", "one more guess")])) != [429]:
        statuses += status
    assert statuses.count(401) == app.config["LOGIN_MAX_FAILURES"]
    assert parallel_logins(app, [("ann", PASSWORD)]) == [429]


def test_parallel_guesses_from_one_address_stay_within_the_limit(either_app):
    app = either_app
    app.config.update(PASSWORD_HASH_METHOD=SLOW_HASH, LOGIN_MAX_FAILURES_PER_ADDRESS=10)
    statuses = parallel_logins(app, [(f"user{n}", "guess") for n in range(PARALLEL)])
    assert set(statuses) <= {401, 429}
    assert statuses.count(401) <= 10


def test_password_hashing_is_bounded(app, monkeypatch):
    """Each anonymous login costs a hash; a crowd of them must not run them all
    at once (120 parallel scrypt hashes took a process from 120 to 614 MB)."""
    app.config.update(PASSWORD_HASH_CONCURRENCY=2, LOGIN_MAX_FAILURES_PER_ADDRESS=1000)
    running, most = [0], [0]
    lock = threading.Lock()

    def slow_check(stored: str, password: str) -> bool:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.05)
        with lock:
            running[0] -= 1
        return False

    monkeypatch.setattr(accounts, "check_password_hash", slow_check)
    statuses = parallel_logins(app, [(f"nobody{n}", "guess") for n in range(20)])
    assert statuses == [401] * 20
    assert most[0] == 2


# --- behind a reverse proxy -----------------------------------------------------------
class ForwardingProxy:
    """A reverse proxy on 127.0.0.1 in front of the app, as nginx with
    `proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for`: it adds the
    address its client connected from to the request's X-Forwarded-For. One
    request per connection (the clients below send Connection: close)."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, (address, _) = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client, address), daemon=True).start()

    def _serve(self, client: socket.socket, address: str) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            data = client.recv(65536)
            if not data:
                client.close()
                return
            head += data
        head, rest = head.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        forwarded = [
            line.split(b":", 1)[1].strip()
            for line in lines[1:]
            if line.lower().startswith(b"x-forwarded-for:")
        ]
        lines = [line for line in lines if not line.lower().startswith(b"x-forwarded-for:")]
        lines.append(b"X-Forwarded-For: " + b", ".join([*forwarded, address.encode()]))
        upstream = socket.create_connection(("127.0.0.1", self.target_port))
        upstream.sendall(b"\r\n".join(lines) + b"\r\n\r\n" + rest)
        threading.Thread(target=pipe, args=(client, upstream), daemon=True).start()
        pipe(upstream, client)

    def close(self) -> None:
        self.listener.close()


class Visitor:
    """A browser on its own address (127.0.0.N), talking to the proxy."""

    def __init__(self, address: str, port: int, headers: dict[str, str] | None = None):
        self.address, self.port = address, port
        self.headers = headers or {}
        self.cookies: dict[str, str] = {}

    def send(self, method: str, path: str, form: dict | None = None) -> tuple[int, str]:
        connection = http.client.HTTPConnection(
            "127.0.0.1", self.port, timeout=10, source_address=(self.address, 0)
        )
        headers = {
            **self.headers,
            "Connection": "close",
            "Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()),
        }
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            connection.request(method, path, body, headers)
            response = connection.getresponse()
            text = response.read().decode()
        finally:
            connection.close()
        for header in response.headers.get_all("Set-Cookie") or ():
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        return response.status, text

    def log_in(self, username: str, password: str) -> int:
        status, page = self.send("GET", "/login")
        assert status == 200
        token = load_votes.CSRF_RE.search(page).group(1)
        return self.send(
            "POST", "/login", {"csrf_token": token, "username": username, "password": password}
        )[0]


@pytest.mark.slow
def test_one_client_behind_the_proxy_cannot_lock_out_the_others(tmp_path, small_hierarchy):
    app = seeded(make_app(tmp_path), small_hierarchy)
    add_user(app, "bob")
    add_user(app, "boss", role="admin")
    survey = load_votes.Survey(
        app.config["SQLALCHEMY_DATABASE_URI"],
        tmp_path,
        tmp_path / "hierarchy.json",
        workers=1,
        settings={
            "CIL_TRUSTED_PROXIES": "1",
            "CIL_LOGIN_MAX_FAILURES_PER_ADDRESS": "5",
            "CIL_PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        },
    )
    survey.start()
    proxy = ForwardingProxy(survey.port)
    try:
        attacker = Visitor("127.0.0.2", proxy.port)
        for n in range(6):
            attacker.log_in(f"made-up{n}", "guess")
        assert attacker.log_in("bob", PASSWORD) == 429
        # Naming another address in its own X-Forwarded-For does not help it:
        # the proxy appends the address it saw, and only that one is trusted.
        spoofer = Visitor("127.0.0.2", proxy.port, {"X-Forwarded-For": "198.51.100.7"})
        assert spoofer.log_in("bob", PASSWORD) == 429
        assert Visitor("127.0.0.3", proxy.port).log_in("bob", PASSWORD) == 302
        assert Visitor("127.0.0.4", proxy.port).log_in("boss", PASSWORD) == 302
    finally:
        proxy.close()
        survey.stop()
