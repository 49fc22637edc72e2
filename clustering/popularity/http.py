"""The plumbing every web provider shares: one requests session with urllib3's retries,
a rate limit, and failures turned into `CountError` messages that never quote a URL."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from importlib import metadata
from typing import Any, ClassVar, Self, TypedDict, Unpack
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import (
    ConnectTimeoutError,
    InvalidHeader,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)
from urllib3.response import BaseHTTPResponse
from urllib3.util import Retry

from clustering.popularity.base import CountError, CountProvider, ProviderConfigError

# Answers worth asking again for: too many requests, and the server's own failures.
RETRY_STATUSES = frozenset({429, *range(500, 600)})


def _default_user_agent() -> str:
    """A descriptive User-Agent, which Wikimedia's API policy requires of every client."""
    try:
        version = metadata.version("clustered-imagenet-labels")
    except metadata.PackageNotFoundError:  # run from a source tree that is not installed
        version = "0+unknown"
    return (
        f"clustered-imagenet-labels/{version} (ImageNet label survey; search-count "
        f"hints for WordNet synsets) python-requests/{requests.__version__}"
    )


def _describe_status(response: requests.Response) -> str:
    """The status code plus the API's own error message when it sends one."""
    message = None
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        error = body.get("error")  # Google: {"error": {"message": ...}}
        message = error.get("message") if isinstance(error, dict) else body.get("detail")
    if isinstance(message, str) and message:
        return f"HTTP {response.status_code}: {message}"
    return f"HTTP {response.status_code} {response.reason or ''}".rstrip()


def whole_number(value: Any, what: str) -> int:
    """A count from an API answer, which must be a JSON whole number >= 0."""
    if type(value) is int and value >= 0:  # not bool, which is an int too
        return value
    raise CountError(f"the answer's {what} is {json.dumps(value)}, not a whole number >= 0")


class HttpOptions(TypedDict, total=False):
    """The options of every web provider; each defaults to its class's attribute."""

    timeout: float
    retries: int
    backoff: float
    max_delay: float
    min_interval: float
    user_agent: str | None


class _Retry(Retry):
    """urllib3's `Retry` plus three things it lacks: its waits go through a `sleep` it
    is given (the provider's), a hook runs before every retry (the provider's rate
    limit), and an unreadable Retry-After falls back to the backoff instead of failing
    the request."""

    def __init__(
        self,
        *args: Any,
        sleep: Callable[[float], None] = time.sleep,
        before_retry: Callable[[], None] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.pause = sleep
        self.before_retry = before_retry

    def new(self, **kw: Any) -> Self:  # each try gets a new Retry: carry the hooks over
        kw.setdefault("sleep", self.pause)
        kw.setdefault("before_retry", self.before_retry)
        return super().new(**kw)

    def get_retry_after(self, response: BaseHTTPResponse) -> float | None:
        try:
            return super().get_retry_after(response)
        except InvalidHeader:
            return None

    def sleep(self, response: BaseHTTPResponse | None = None) -> None:
        # urllib3's rule: the server's Retry-After when it asks for a wait, else the backoff.
        retry_after = (
            self.get_retry_after(response)
            if response is not None and self.respect_retry_after_header
            else None
        )
        wait = retry_after or self.get_backoff_time()
        if wait > 0:
            self.pause(wait)
        if self.before_retry is not None:
            self.before_retry()


def _tries(n: int) -> str:
    return "1 try" if n == 1 else f"{n} tries"


def _os_reason(error: BaseException | None) -> str | None:
    """The operating system's words ("Connection refused") from an error or its causes."""
    todo, seen = [error], set()
    while todo:
        error = todo.pop(0)
        if isinstance(error, OSError) and error.strerror:
            return error.strerror
        if error is not None and id(error) not in seen:
            seen.add(id(error))
            todo += [
                error.__cause__,
                error.__context__,
                *(arg for arg in error.args if isinstance(arg, BaseException)),
            ]
    return None


class HttpCountProvider(CountProvider):
    """Shared plumbing for web APIs, so that every provider fails and retries alike.

    The options (`HttpOptions`) default to the class attributes below, which a
    provider may change. `timeout` bounds each connect and each read (seconds).
    A request that times out, cannot connect, or gets 429 or 5xx is tried again
    up to `retries` more times by urllib3's `Retry`: the first retry at once, the
    n-th after `backoff * 2**(n-1)` seconds (2, 4, 8 ... times `backoff`), or
    after the server's Retry-After when that asks for a wait, neither longer than
    `max_delay`. Other statuses fail at once: asking again would get the same
    answer. Requests, retries included, start at least `min_interval` seconds
    apart. A read that times out once the answer has begun is not tried again.
    """

    timeout: float = 10.0
    retries: int = 3
    backoff: float = 1.0
    max_delay: float = 60.0
    min_interval: float = 0.5
    user_agent: str | None = None
    # Every wait is measured by `clock` and spent in `sleep`, read when the provider is
    # made: a test replaces both to see the waits asked for without waiting.
    clock: ClassVar[Callable[[], float]] = staticmethod(time.monotonic)
    sleep: ClassVar[Callable[[float], None]] = staticmethod(time.sleep)

    def __init__(self, base_url: str, **http: Unpack[HttpOptions]) -> None:
        unknown = sorted(http.keys() - HttpOptions.__annotations__.keys())
        if unknown:
            raise TypeError(f"{type(self).__name__} got unexpected option(s): {', '.join(unknown)}")
        for name, value in http.items():
            setattr(self, name, value)
        if (
            self.timeout <= 0
            or self.retries < 0
            or self.backoff < 0
            or self.max_delay < 0
            or self.min_interval < 0
        ):
            raise ProviderConfigError(
                "timeout must be > 0; retries, backoff, max_delay and min_interval must be >= 0"
            )
        self.base_url = base_url.rstrip("/")
        retry = _Retry(
            total=self.retries,
            status_forcelist=RETRY_STATUSES,
            backoff_factor=self.backoff,
            backoff_max=self.max_delay,
            retry_after_max=self.max_delay,  # annotated int; urllib3 only compares it
            raise_on_status=False,  # the last answer, to report the API's own message
            sleep=self.sleep,
            before_retry=self._wait_for_turn,
        )
        self._session = requests.Session()
        self._session.headers["User-Agent"] = self.user_agent or _default_user_agent()
        for prefix in ("https://", "http://"):
            self._session.mount(prefix, HTTPAdapter(max_retries=retry))
        self._last_request: float | None = None

    def close(self) -> None:
        self._session.close()

    def _wait_for_turn(self) -> None:
        """Sleep until `min_interval` has passed since the previous request began."""
        if self._last_request is not None:
            wait = self._last_request + self.min_interval - self.clock()
            if wait > 0:
                self.sleep(wait)
        self._last_request = self.clock()

    def _get_json(
        self,
        url: str,
        params: Mapping[str, str] | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        follow_redirects: bool = True,
        not_found: str | None = None,
    ) -> Any:
        """GET `url` and decode its JSON; the session's adapter retries transient failures.

        `not_found` replaces the message of a 404, which APIs word for their own
        purposes. Messages never quote the URL.
        """
        self._wait_for_turn()
        try:
            response = self._session.get(
                url,
                params=params,
                headers=headers,
                timeout=self.timeout,
                allow_redirects=follow_redirects,
            )
        except requests.RequestException as exc:
            raise CountError(self._describe_failure(exc, urlsplit(url).netloc)) from None
        status = response.status_code
        if status in RETRY_STATUSES:  # urllib3 hands back the last answer once retries are spent
            earlier = response.raw.retries.history if response.raw.retries else ()
            raise CountError(
                f"{_describe_status(response)}; gave up after {_tries(len(earlier) + 1)}"
            )
        if status == 404 and not_found:
            raise CountError(not_found)
        if not 200 <= status < 300:
            raise CountError(_describe_status(response))
        try:
            return response.json()
        except ValueError:
            raise CountError(f"the answer is not JSON: {response.text[:60]!r}") from None

    def _describe_failure(self, exc: requests.RequestException, host: str) -> str:
        """Why no answer came. requests wraps urllib3's errors: `MaxRetryError` (its
        `.reason` the last error) once retries are spent, or the bare error when
        reading the body failed, which is not retried."""
        error = exc.args[0] if exc.args else None
        spent = isinstance(error, MaxRetryError)
        if spent:
            error = error.reason
        if isinstance(error, ReadTimeoutError):
            what = f"no answer within {self.timeout:g} s"
        # NewConnectionError (refused, unresolvable) is a subclass of ConnectTimeoutError.
        elif isinstance(error, ConnectTimeoutError) and not isinstance(error, NewConnectionError):
            what = f"no connection to {host} within {self.timeout:g} s"
        elif isinstance(error, NewConnectionError):
            what = f"could not reach {host} ({_os_reason(error) or type(error).__name__})"
        elif isinstance(error, ProtocolError):
            what = f"the connection to {host} broke ({_os_reason(error) or error.args[0]})"
        else:  # str() of these may quote the URL
            what = f"the request to {host} failed ({type(error or exc).__name__})"
        if spent:
            return f"{what}; gave up after {_tries(self.retries + 1)}"
        if isinstance(error, ReadTimeoutError | ProtocolError):
            return f"{what} while reading the answer; not retried"
        return what
