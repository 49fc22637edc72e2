"""Search-count providers, against a scripted HTTP server on 127.0.0.1 (no network)."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from wordfreq import word_frequency

from clustering.popularity import (
    PROVIDERS,
    WEB_CORPUS_TOKENS,
    CountError,
    CountProvider,
    GoogleCustomSearchProvider,
    HttpCountProvider,
    JsonFileProvider,
    ProviderConfigError,
    WikipediaPageviewsProvider,
    WordfreqProvider,
    format_count,
    get_provider,
    last_full_months,
    wikipedia_title,
)

# Settings that keep timeouts to fractions of a second; no test sleeps (see `fake_time`).
FAST = {"timeout": 2.0, "retries": 2, "backoff": 0.01, "min_interval": 0.0}
WINDOW = {"start": date(2024, 1, 1), "end": date(2024, 12, 31)}


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # a str is sent as is, anything else as JSON
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # before the answer
    stall: float = 0.0  # after the headers and half the body


@dataclass
class Seen:
    path: str
    query: dict[str, list[str]]
    user_agent: str | None
    api_key: str | None


class FakeApi:
    """A web API that answers request i with replies[i], repeating the last reply."""

    def __init__(self) -> None:
        self.replies: list[Reply] = [Reply(body={})]
        self.seen: list[Seen] = []
        self.release = threading.Event()  # wakes slow replies at teardown
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                seen = Seen(
                    parts.path,
                    parse_qs(parts.query),
                    self.headers["User-Agent"],
                    self.headers["X-goog-api-key"],
                )
                api.seen.append(seen)
                reply = api.replies[min(len(api.seen), len(api.replies)) - 1]
                if reply.delay:
                    api.release.wait(reply.delay)
                body = reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
                data = body.encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    if reply.stall:
                        self.wfile.write(data[: len(data) // 2])
                        self.wfile.flush()
                        api.release.wait(reply.stall)
                        data = data[len(data) // 2 :]
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting, as the timeout test intends

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        # A short poll interval lets shutdown() return at once instead of after 0.5 s.
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.01,), daemon=True)

    def reply(self, *replies: Reply) -> None:
        self.replies = list(replies)


class FakeTime:
    """A clock that moves only when slept on: the waits a provider asks for are recorded
    in `waits`, and none is spent."""

    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


@pytest.fixture(autouse=True)
def fake_time(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    """Every web provider made in a test here waits on a `FakeTime` (retries, backoff and
    the rate limit alike), so the tests check the waits themselves and take no time."""
    fake = FakeTime()
    monkeypatch.setattr(HttpCountProvider, "clock", staticmethod(fake.monotonic))
    monkeypatch.setattr(HttpCountProvider, "sleep", staticmethod(fake.sleep))
    return fake


@pytest.fixture
def fake_api() -> Iterator[FakeApi]:
    api = FakeApi()
    api.thread.start()
    yield api
    api.release.set()
    api.server.shutdown()
    api.server.server_close()
    api.thread.join()


@pytest.fixture
def make_provider() -> Iterator[Callable[..., Any]]:
    """Build providers and close their sessions afterwards (an open socket is a warning)."""
    made: list[CountProvider] = []

    def make(cls: type[CountProvider], *args: Any, **kwargs: Any) -> Any:
        provider = cls(*args, **kwargs)
        made.append(provider)
        return provider

    yield make
    for provider in made:
        provider.close()


def pageviews(*views: Any) -> dict[str, Any]:
    return {"items": [{"article": "X", "granularity": "monthly", "views": v} for v in views]}


def google_answer(total: Any) -> dict[str, Any]:
    return {"kind": "customsearch#search", "searchInformation": {"totalResults": total}}


@pytest.fixture
def google_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_API_KEY", "SECRET-KEY")
    monkeypatch.setenv("GOOGLE_CSE_ID", "engine-1")


# --- Wikipedia: the request and the sum ----------------------------------------------


def test_wikipedia_sums_monthly_user_views_of_the_titled_article(fake_api, make_provider):
    fake_api.reply(Reply(body=pageviews(10, 20, 30)))
    provider = make_provider(WikipediaPageviewsProvider, fake_api.url, **WINDOW, **FAST)

    assert provider.count("domestic_animal") == 60
    [seen] = fake_api.seen
    assert seen.path == (
        "/en.wikipedia.org/all-access/user/Domestic_animal/monthly/20240101/20241231"
    )
    assert seen.user_agent.startswith("clustered-imagenet-labels/")


def test_wikipedia_title_escapes_slashes_and_widens_the_window_to_whole_months(
    fake_api, make_provider
):
    fake_api.reply(Reply(body=pageviews(5)))
    provider = make_provider(
        WikipediaPageviewsProvider,
        fake_api.url,
        start=date(2024, 2, 15),
        end=date(2024, 4, 3),
        **FAST,
    )

    assert provider.count("AC/DC") == 5
    assert fake_api.seen[0].path.endswith("/AC%2FDC/monthly/20240201/20240430")


def test_wikipedia_title_capitalises_only_the_first_letter():
    assert wikipedia_title("domestic_animal") == "Domestic_animal"
    assert wikipedia_title("  iPod  touch ") == "IPod_touch"


@pytest.mark.parametrize(
    ("today", "window"),
    [
        (date(2025, 1, 10), (date(2024, 1, 1), date(2024, 12, 31))),
        (date(2025, 3, 31), (date(2024, 3, 1), date(2025, 2, 28))),
        (date(2024, 3, 1), (date(2023, 3, 1), date(2024, 2, 29))),
    ],
)
def test_default_window_is_the_last_twelve_full_months(today, window):
    assert last_full_months(12, today) == window


@pytest.mark.parametrize(
    ("window", "message"),
    [
        ({"start": date(2024, 1, 1)}, "give both start and end"),
        ({"start": date(2024, 5, 1), "end": date(2024, 4, 30)}, "start 2024-05-01 is after end"),
    ],
)
def test_wikipedia_rejects_a_bad_window(window, message):
    with pytest.raises(ProviderConfigError, match=message):
        WikipediaPageviewsProvider("http://127.0.0.1:9", **window)


def test_wikipedia_missing_article_fails_at_once_with_its_title(fake_api, make_provider):
    fake_api.reply(Reply(404, {"title": "Not found.", "detail": "The date(s) you used..."}))
    provider = make_provider(WikipediaPageviewsProvider, fake_api.url, **WINDOW, **FAST)

    with pytest.raises(CountError, match="no page views for Wikipedia article 'Cyprinid'"):
        provider.count("cyprinid")
    assert len(fake_api.seen) == 1


# --- Retries, backoff, timeouts ----------------------------------------------------------


def test_429_then_success_takes_the_retry(fake_api, make_provider):
    fake_api.reply(Reply(429), Reply(body=pageviews(7)))
    provider = make_provider(WikipediaPageviewsProvider, fake_api.url, **WINDOW, **FAST)

    assert provider.count("dog") == 7
    assert len(fake_api.seen) == 2


def test_always_429_gives_up_after_retries_plus_one_tries(fake_api, make_provider):
    fake_api.reply(Reply(429, {"detail": "slow down"}))
    provider = make_provider(WikipediaPageviewsProvider, fake_api.url, **WINDOW, **FAST)

    with pytest.raises(CountError, match=r"HTTP 429: slow down; gave up after 3 tries"):
        provider.count("dog")
    assert len(fake_api.seen) == 3


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_are_retried_then_reported(fake_api, make_provider, status):
    fake_api.reply(Reply(status, "<html>oops</html>"))
    provider = make_provider(WikipediaPageviewsProvider, fake_api.url, **WINDOW, **FAST)

    with pytest.raises(CountError, match=rf"HTTP {status}\b.*gave up after 3 tries"):
        provider.count("dog")
    assert len(fake_api.seen) == 3


def test_500_then_success_recovers(fake_api, make_provider):
    fake_api.reply(Reply(500), Reply(500), Reply(body=pageviews(1, 2)))
    provider = make_provider(WikipediaPageviewsProvider, fake_api.url, **WINDOW, **FAST)

    assert provider.count("dog") == 3
    assert len(fake_api.seen) == 3


def test_backoff_doubles_between_tries_and_retry_after_replaces_one_wait(
    fake_api, make_provider, fake_time
):
    fake_api.reply(Reply(500), Reply(500), Reply(429, headers={"Retry-After": "1"}), Reply(500))
    provider = make_provider(
        WikipediaPageviewsProvider,
        fake_api.url,
        **WINDOW,
        **{**FAST, "retries": 4, "backoff": 0.05},
    )

    with pytest.raises(CountError, match="HTTP 500.*gave up after 5 tries"):
        provider.count("dog")
    assert len(fake_api.seen) == 5
    # urllib3 retries once at once, then waits backoff * 2**(n-1): 0.1 s, 0.2 s, 0.4 s;
    # the third wait is the server's Retry-After instead, and doubling goes on after it.
    assert fake_time.waits == pytest.approx([0.1, 1.0, 0.4])


def test_retry_after_seconds_is_respected(fake_api, make_provider, fake_time):
    fake_api.reply(Reply(429, headers={"Retry-After": "1"}), Reply(body=pageviews(4)))
    provider = make_provider(
        WikipediaPageviewsProvider, fake_api.url, **WINDOW, **{**FAST, "backoff": 0.0}
    )

    assert provider.count("dog") == 4
    assert fake_time.waits == [1.0]


def test_retry_after_is_capped_by_max_delay(fake_api, make_provider, fake_time):
    fake_api.reply(Reply(503, headers={"Retry-After": "5"}), Reply(body=pageviews(4)))
    provider = make_provider(
        WikipediaPageviewsProvider, fake_api.url, **WINDOW, **FAST, max_delay=0.2
    )

    assert provider.count("dog") == 4
    assert fake_time.waits == [0.2]


def test_backoff_is_capped_by_max_delay(fake_api, make_provider, fake_time):
    fake_api.reply(Reply(500))
    provider = make_provider(
        WikipediaPageviewsProvider,
        fake_api.url,
        **WINDOW,
        **{**FAST, "backoff": 10.0, "max_delay": 0.2},
    )

    with pytest.raises(CountError, match="gave up after 3 tries"):
        provider.count("dog")
    assert fake_time.waits == [0.2]  # the second retry's; not backoff * 2 = 20 s


def test_retry_after_as_http_date_is_respected(fake_api, make_provider, fake_time):
    soon = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    fake_api.reply(Reply(503, headers={"Retry-After": soon}), Reply(body=pageviews(4)))
    provider = make_provider(
        WikipediaPageviewsProvider, fake_api.url, **WINDOW, **{**FAST, "backoff": 0.0}
    )

    assert provider.count("dog") == 4
    # The date has whole seconds, so it is 29 to 30 s away when written, and a moment
    # less when urllib3 reads it against the real clock.
    [wait] = fake_time.waits
    assert 28 < wait <= 30


@pytest.mark.parametrize(
    "retry_after",
    [
        "Tue, 01 Dec 2020 12:00:00 GMT",  # in the past
        "0",
        "soon",  # unreadable
    ],
)
def test_retry_after_without_a_wait_falls_back_to_the_backoff(
    fake_api, make_provider, fake_time, retry_after
):
    fake_api.reply(
        Reply(500), Reply(429, headers={"Retry-After": retry_after}), Reply(body=pageviews(4))
    )
    provider = make_provider(
        WikipediaPageviewsProvider, fake_api.url, **WINDOW, **{**FAST, "backoff": 0.15}
    )

    assert provider.count("dog") == 4
    assert fake_time.waits == pytest.approx([0.3])  # backoff * 2, the second retry's


def test_slow_answer_times_out_quickly(fake_api, make_provider):
    # The answer comes after 10 s: only the 0.2 s timeout makes this an error.
    fake_api.reply(Reply(body=pageviews(1), delay=10))
    provider = make_provider(
        WikipediaPageviewsProvider,
        fake_api.url,
        **WINDOW,
        timeout=0.2,
        retries=1,
        backoff=0.0,
        min_interval=0.0,
    )

    with pytest.raises(CountError, match=r"^no answer within 0.2 s; gave up after 2 tries$"):
        provider.count("dog")
    assert len(fake_api.seen) == 2


def test_answer_that_stalls_midway_times_out_without_retry(fake_api, make_provider):
    # The rest of the answer comes after 10 s: only the 0.2 s timeout makes this an error.
    fake_api.reply(Reply(body=pageviews(1), stall=10))
    provider = make_provider(
        WikipediaPageviewsProvider,
        fake_api.url,
        **WINDOW,
        timeout=0.2,
        retries=1,
        backoff=0.0,
        min_interval=0.0,
    )

    with pytest.raises(
        CountError,
        match=r"^no answer within 0.2 s while reading the answer; "
        r"not retried$",
    ):
        provider.count("dog")
    assert len(fake_api.seen) == 1


def test_rate_limit_spaces_requests(fake_api, make_provider, fake_time):
    fake_api.reply(Reply(body=pageviews(1)))
    provider = make_provider(
        WikipediaPageviewsProvider, fake_api.url, **WINDOW, **{**FAST, "min_interval": 0.15}
    )

    for term in ("dog", "cat", "bird", "fish"):
        provider.count(term)
    assert len(fake_api.seen) == 4
    assert fake_time.waits == pytest.approx([0.15] * 3)


def test_rate_limit_spaces_retries_too(fake_api, make_provider, fake_time):
    fake_api.reply(Reply(500), Reply(503), Reply(body=pageviews(1)))
    provider = make_provider(
        WikipediaPageviewsProvider,
        fake_api.url,
        **WINDOW,
        **{**FAST, "backoff": 0.0, "min_interval": 0.15},
    )

    assert provider.count("dog") == 1
    assert len(fake_api.seen) == 3
    assert fake_time.waits == pytest.approx([0.15] * 2)


# --- Garbage answers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("this is not json", "not JSON"),
        ([1, 2], "no list of monthly 'items'"),
        ({"items": "many"}, "no list of monthly 'items'"),
        ({"other": []}, "no list of monthly 'items'"),
        (pageviews(10, -5), "views is -5"),
        (pageviews("12"), 'views is "12"'),
        (pageviews(1.5), "views is 1.5"),
        (pageviews(True), "views is true"),
        ({"items": [{"article": "Dog"}]}, "views is null"),
        ({"items": ["x"]}, "views is null"),
    ],
)
def test_wikipedia_garbage_is_a_count_error_without_retry(fake_api, make_provider, body, message):
    fake_api.reply(Reply(body=body))
    provider = make_provider(WikipediaPageviewsProvider, fake_api.url, **WINDOW, **FAST)

    with pytest.raises(CountError, match=message):
        provider.count("dog")
    assert len(fake_api.seen) == 1


# --- Google ------------------------------------------------------------------------------


def test_google_counts_the_quoted_phrase_with_key_and_engine(fake_api, make_provider, google_env):
    fake_api.reply(Reply(body=google_answer("2900000000")))
    provider = make_provider(GoogleCustomSearchProvider, fake_api.url, **FAST)

    assert provider.count("domestic_animal") == 2_900_000_000
    [seen] = fake_api.seen
    assert seen.query == {"cx": ["engine-1"], "q": ['"domestic animal"']}
    assert seen.api_key == "SECRET-KEY"  # in a header, never in the URL


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "no searchInformation.totalResults"),
        ({"searchInformation": {}}, "no searchInformation.totalResults"),
        (google_answer("-3"), 'totalResults is "-3"'),
        (google_answer("lots"), 'totalResults is "lots"'),
        (google_answer("²"), 'totalResults is "'),
        (google_answer(None), "totalResults is null"),
    ],
)
def test_google_garbage_is_a_count_error(fake_api, make_provider, google_env, body, message):
    fake_api.reply(Reply(body=body))
    provider = make_provider(GoogleCustomSearchProvider, fake_api.url, **FAST)

    with pytest.raises(CountError, match=message):
        provider.count("dog")


def test_google_client_error_is_reported_with_its_message_and_not_retried(
    fake_api, make_provider, google_env
):
    fake_api.reply(Reply(400, {"error": {"code": 400, "message": "API key not valid."}}))
    provider = make_provider(GoogleCustomSearchProvider, fake_api.url, **FAST)

    with pytest.raises(CountError, match=r"HTTP 400: API key not valid\."):
        provider.count("dog")
    assert len(fake_api.seen) == 1


@pytest.mark.parametrize("unset", ["GOOGLE_API_KEY", "GOOGLE_CSE_ID"])
def test_google_without_credentials_names_what_is_missing(monkeypatch, google_env, unset):
    monkeypatch.delenv(unset)

    with pytest.raises(ProviderConfigError, match=f"needs {unset} in the environment"):
        GoogleCustomSearchProvider("http://127.0.0.1:9")


def closed_port() -> int:
    with socket.socket() as sock:  # a port that nothing listens on once closed
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_connection_failure_does_not_leak_the_api_key(make_provider, google_env):
    port = closed_port()
    provider = make_provider(
        GoogleCustomSearchProvider, f"http://127.0.0.1:{port}", **{**FAST, "retries": 1}
    )

    with pytest.raises(
        CountError,
        match=rf"^could not reach 127.0.0.1:{port} "
        r"\(Connection refused\); gave up after 2 tries$",
    ) as raised:
        provider.count("dog")
    assert "SECRET-KEY" not in str(raised.value)


def test_the_api_key_never_reaches_a_log(fake_api, make_provider, google_env, caplog):
    caplog.set_level(logging.DEBUG)
    fake_api.reply(Reply(500), Reply(body=google_answer("12")))
    with make_provider(GoogleCustomSearchProvider, fake_api.url, **FAST) as provider:
        assert provider.count("dog") == 12
    down = make_provider(
        GoogleCustomSearchProvider, f"http://127.0.0.1:{closed_port()}", **{**FAST, "retries": 1}
    )
    with pytest.raises(CountError):
        down.count("dog")

    logged = caplog.text
    assert "cx=engine-1" in logged  # urllib3 logged the URLs, of the retries too...
    assert any(
        r.levelno == logging.WARNING and "Retrying" in r.getMessage() for r in caplog.records
    )
    assert "SECRET-KEY" not in logged  # ...but the key was never in them


def test_google_does_not_follow_a_redirect_with_its_key(fake_api, make_provider, google_env):
    fake_api.reply(Reply(302, {}, headers={"Location": "http://elsewhere.invalid/"}))
    provider = make_provider(GoogleCustomSearchProvider, fake_api.url, **FAST)

    with pytest.raises(CountError, match=r"^HTTP 302 Found$"):
        provider.count("dog")
    assert len(fake_api.seen) == 1


# --- options --------------------------------------------------------------------------------


def test_each_provider_has_its_own_default_interval_and_takes_the_shared_options(google_env):
    with (
        WikipediaPageviewsProvider() as wikipedia,
        GoogleCustomSearchProvider() as google,
        WikipediaPageviewsProvider(
            timeout=3, retries=0, backoff=2, max_delay=5, min_interval=0.25, user_agent="me"
        ) as tuned,
    ):
        assert (wikipedia.min_interval, google.min_interval) == (0.1, 1.0)
        assert (
            (wikipedia.timeout, wikipedia.retries, wikipedia.backoff, wikipedia.max_delay)
            == (google.timeout, google.retries, google.backoff, google.max_delay)
            == (10.0, 3, 1.0, 60.0)
        )
        assert (
            tuned.timeout,
            tuned.retries,
            tuned.backoff,
            tuned.max_delay,
            tuned.min_interval,
            tuned.user_agent,
        ) == (3, 0, 2, 5, 0.25, "me")
        assert WikipediaPageviewsProvider.min_interval == 0.1  # the class is untouched


@pytest.mark.parametrize(
    "option",
    [{"timeout": 0}, {"retries": -1}, {"backoff": -1}, {"max_delay": -1}, {"min_interval": -0.1}],
)
def test_http_options_out_of_range_are_a_config_error(option):
    with pytest.raises(ProviderConfigError, match="timeout must be > 0"):
        WikipediaPageviewsProvider("http://127.0.0.1:9", **option)


def test_an_unknown_http_option_is_a_type_error():
    with pytest.raises(TypeError, match="unexpected option.*: retry"):
        WikipediaPageviewsProvider(retry=3)


# --- count_many ----------------------------------------------------------------------------


def test_count_many_records_failures_and_continues(fake_api, make_provider, capsys):
    fake_api.reply(Reply(body=pageviews(3)), Reply(500), Reply(body=pageviews(9)))
    provider = make_provider(
        WikipediaPageviewsProvider, fake_api.url, **WINDOW, **{**FAST, "retries": 0}
    )

    results = provider.count_many(["dog", "cat", "dog", "bird"], progress=True)

    assert list(results) == ["dog", "cat", "bird"]  # each distinct term once, in order
    assert (results["dog"].count, results["dog"].error) == (3, None)
    assert results["cat"].count is None
    assert "HTTP 500" in results["cat"].error
    assert (results["bird"].count, results["bird"].error) == (9, None)
    assert "search counts (wikipedia)" in capsys.readouterr().err


def test_count_many_lets_bugs_through():
    class Broken(CountProvider):
        name = "broken"

        def count(self, term: str) -> int:
            raise KeyError(term)

    with pytest.raises(KeyError):
        Broken().count_many(["dog"], progress=False)


# --- JSON file -----------------------------------------------------------------------------


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "counts.json"
    path.write_text(text, encoding="utf-8")
    return path


def test_json_file_counts_with_lemma_or_phrase_spelling(tmp_path):
    provider = JsonFileProvider(
        write(
            tmp_path,
            json.dumps({"dog": 168_000_000, "domestic animal": 5_000, "coach_dog": 12, "zero": 0}),
        )
    )

    assert provider.count("dog") == 168_000_000
    assert provider.count("domestic_animal") == 5_000
    assert provider.count("coach dog") == 12
    assert provider.count("zero") == 0
    with pytest.raises(CountError, match=r"'cyprinid' is not in .*counts\.json"):
        provider.count("cyprinid")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"dog": 1,', r"not valid JSON \(Expecting property name .* at line 1, column 11\)"),
        ("[1, 2]", "holds a JSON list, not an object"),
        ('"dog"', "holds a JSON str, not an object"),
        (
            '{"dog": "many", "cat": 1.5, "eel": -1, "owl": true, "ant": null, "ok": 3}',
            (
                r"has 5 count\(s\) that are not whole numbers >= 0 \('dog': \"many\", 'cat': 1.5, "
                r"'eel': -1, 'owl': true, 'ant': null\)"
            ),
        ),
    ],
)
def test_corrupt_json_file_says_what_is_wrong_and_what_to_do(tmp_path, text, message):
    path = write(tmp_path, text)

    with pytest.raises(ProviderConfigError, match=message) as raised:
        JsonFileProvider(path)
    assert str(path) in str(raised.value)
    assert "JSON object mapping each term to a whole number" in str(raised.value)


def test_json_file_lists_only_the_first_five_bad_counts(tmp_path):
    path = write(tmp_path, json.dumps({f"t{i}": -i - 1 for i in range(8)}))

    with pytest.raises(ProviderConfigError, match=r"'t4': -5 and 3 more\)"):
        JsonFileProvider(path)


def test_missing_json_file_is_a_config_error(tmp_path):
    with pytest.raises(ProviderConfigError, match=r"counts\.json does not exist"):
        JsonFileProvider(tmp_path / "counts.json")


# --- wordfreq ------------------------------------------------------------------------------


def test_wordfreq_is_frequency_times_corpus_size_and_deterministic():
    first, second = WordfreqProvider(), WordfreqProvider()

    assert first.count("dog") == round(word_frequency("dog", "en") * WEB_CORPUS_TOKENS)
    assert [first.count(t) for t in ("dog", "cyprinid", "tench")] == [
        second.count(t) for t in ("dog", "cyprinid", "tench")
    ]


def test_wordfreq_ranks_common_words_above_rare_ones():
    provider = WordfreqProvider()

    assert provider.count("dog") > provider.count("cyprinid") > 0
    assert provider.count("xqzzyplorf") == 0


def test_wordfreq_counts_a_phrase_no_higher_than_its_rarest_word():
    provider = WordfreqProvider()

    phrase = provider.count("domestic_animal")
    assert phrase == provider.count("domestic animal")
    assert 0 < phrase <= min(provider.count("domestic"), provider.count("animal"))


def test_empty_term_is_a_count_error():
    with pytest.raises(CountError, match="empty"):
        WordfreqProvider().count(" _ ")


# --- registry and helpers ------------------------------------------------------------------


def test_get_provider_builds_each_named_provider(tmp_path, google_env):
    options = {"json": {"path": write(tmp_path, "{}")}}

    assert PROVIDERS == ("wordfreq", "wikipedia", "google", "json")
    for name in PROVIDERS:
        with get_provider(name, **options.get(name, {})) as provider:
            assert provider.name == name
    assert isinstance(get_provider(), WordfreqProvider)


def test_get_provider_rejects_an_unknown_name():
    with pytest.raises(ProviderConfigError, match="choose one of: wordfreq, wikipedia"):
        get_provider("bing")


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (2_900_000_000, "2.9B"),
        (168_000_000, "168M"),
        (12_345, "12K"),
        (1_500, "1.5K"),
        (1_000, "1K"),
        (9_960, "10K"),
        (999_999, "1M"),
        (999, "999"),
        (0, "0"),
        (3 * 10**12, "3T"),
        (None, "—"),
    ],
)
def test_format_count(n, text):
    assert format_count(n) == text


def test_format_count_rejects_negative_counts():
    with pytest.raises(ValueError):
        format_count(-1)
