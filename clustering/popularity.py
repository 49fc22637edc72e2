"""Search counts: how familiar a word is, as a hint beside each synset of a chain.

Every source is a `CountProvider` with a `name` and `count(term) -> int`, where a
term is a synset lemma ("domestic_animal": underscores mean spaces) or a phrase.
A provider raises `CountError` when it cannot count one term; `count_many` records
such failures per term and carries on, so one bad answer never aborts a run.

Providers (`PROVIDERS`, built by `get_provider(name, **options)`):

- `wordfreq` (default, offline): wordfreq's frequency scaled to a web-sized corpus;
- `wikipedia`: English Wikipedia page views per article, summed over whole months;
- `google`: Google Custom Search's estimated total results;
- `json`: a file `{term: count}`, the format the original survey app used.

The web providers share `HttpCountProvider` and its options (`HttpOptions`): a
timeout, urllib3's retries with exponential backoff on 429 and 5xx (honouring
Retry-After, capped), a minimum interval between requests, and answers that are not
the expected JSON turned into `CountError`.
"""

from __future__ import annotations

import json
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from importlib import metadata
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Self, TypedDict, Unpack
from urllib.parse import quote, urlsplit

import requests
from requests.adapters import HTTPAdapter
from tqdm import tqdm
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
from wordfreq import word_frequency

__all__ = [
    "DEFAULT_PROVIDER", "PROVIDERS", "WEB_CORPUS_TOKENS", "CountError", "CountProvider",
    "CountResult", "GoogleCustomSearchProvider", "HttpCountProvider", "HttpOptions",
    "JsonFileProvider",
    "ProviderConfigError", "WikipediaPageviewsProvider", "WordfreqProvider", "format_count",
    "get_provider", "last_full_months", "wikipedia_title",
]

# wordfreq gives a word's share of all tokens of English text. Multiplying by a
# corpus size turns that share into an expected number of occurrences, a number on
# the scale of a web search count. 10**12 tokens is the order of Google's Web 1T
# n-gram corpus (1.02e12 tokens), so "dog" (1.26e-4) estimates to 126M.
WEB_CORPUS_TOKENS = 10**12

WIKIMEDIA_PAGEVIEWS_URL = "https://wikimedia.org/api/rest_v1/metrics/pageviews/per-article"
GOOGLE_CUSTOM_SEARCH_URL = "https://www.googleapis.com/customsearch/v1"


class CountError(Exception):
    """One term could not be counted; the message says why, for the cache and the log."""


class ProviderConfigError(ValueError):
    """A provider cannot be set up at all (missing key, corrupt file, unknown name)."""


@dataclass(frozen=True)
class CountResult:
    """The outcome for one term: a count, or the error that prevented one."""

    term: str
    count: int | None
    error: str | None


def _phrase(term: str) -> str:
    """The term as words: lemma underscores become spaces, whitespace is collapsed."""
    phrase = " ".join(term.replace("_", " ").split())
    if not phrase:
        raise CountError("the search term is empty")
    return phrase


class CountProvider(ABC):
    """A source of estimated web search counts; subclasses set `name` and `count`."""

    name: ClassVar[str]

    @abstractmethod
    def count(self, term: str) -> int:
        """The estimated count for `term`; raises `CountError` when there is none."""

    def count_many(self, terms: Iterable[str], progress: bool = True) -> dict[str, CountResult]:
        """Count each distinct term in order, recording failures instead of stopping.

        Only `CountError` is recorded; any other exception is a bug and propagates.
        """
        results: dict[str, CountResult] = {}
        failed = 0
        unique = list(dict.fromkeys(terms))
        with tqdm(unique, desc=f"search counts ({self.name})", unit="term",
                  disable=not progress) as bar:
            for term in bar:
                try:
                    results[term] = CountResult(term, self.count(term), None)
                except CountError as exc:
                    results[term] = CountResult(term, None, str(exc))
                    failed += 1
                    bar.set_postfix(failed=failed)
        return results

    def close(self) -> None:
        """Release network resources; offline providers hold none."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class WordfreqProvider(CountProvider):
    """Offline estimate: `wordfreq.word_frequency(phrase, "en") * WEB_CORPUS_TOKENS`.

    For a phrase, wordfreq combines its words' frequencies f1, f2, ... as
    1/f = 1/f1 + 1/f2 + ..., so the rarest word dominates and a phrase never
    outranks its rarest word; a phrase with any unknown word, like an unknown
    word, counts 0. Deterministic for a given wordfreq version.
    """

    name = "wordfreq"

    def count(self, term: str) -> int:
        return round(word_frequency(_phrase(term), "en") * WEB_CORPUS_TOKENS)


def _read_counts_file(path: Path) -> dict[str, int]:
    """Load and check a `{term: count}` file, naming the first problems found."""
    fix = "give a JSON object mapping each term to a whole number, e.g. {\"dog\": 168000000}"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProviderConfigError(f"counts file {path} does not exist; {fix}") from None
    except UnicodeDecodeError:
        raise ProviderConfigError(f"counts file {path} is not UTF-8 text; {fix}") from None
    except OSError as exc:
        raise ProviderConfigError(f"cannot read counts file {path}: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProviderConfigError(
            f"counts file {path} is not valid JSON ({exc.msg} at line {exc.lineno}, "
            f"column {exc.colno}); repair it or write it again: {fix}"
        ) from None
    if not isinstance(data, dict):
        raise ProviderConfigError(
            f"counts file {path} holds a JSON {type(data).__name__}, not an object; {fix}"
        )
    # bool is a subclass of int, but `true` is no count.
    bad = [(term, value) for term, value in data.items()
           if type(value) is not int or value < 0]
    if bad:
        shown = ", ".join(f"{term!r}: {json.dumps(value)}" for term, value in bad[:5])
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        raise ProviderConfigError(
            f"counts file {path} has {len(bad)} count(s) that are not whole numbers >= 0 "
            f"({shown}{more}); correct those entries: {fix}"
        )
    return data


class JsonFileProvider(CountProvider):
    """Counts read from a JSON file `{term: count}`, checked once when it is opened.

    A term is looked up as given, then with underscores as spaces, then with
    spaces as underscores, so lemma names and plain phrases both find an entry.
    """

    name = "json"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._counts = _read_counts_file(self.path)

    def count(self, term: str) -> int:
        for key in (term, term.replace("_", " "), term.replace(" ", "_")):
            if key in self._counts:
                return self._counts[key]
        raise CountError(f"{term!r} is not in {self.path}")


def _default_user_agent() -> str:
    """A descriptive User-Agent, which Wikimedia's API policy requires of every client."""
    try:
        version = metadata.version("clustered-imagenet-labels")
    except metadata.PackageNotFoundError:  # run from a source tree that is not installed
        version = "0+unknown"
    return (f"clustered-imagenet-labels/{version} (ImageNet label survey; search-count "
            f"hints for WordNet synsets) python-requests/{requests.__version__}")


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


def _non_negative_int(value: Any, what: str) -> int:
    """A count from an API answer, which must be a JSON whole number >= 0."""
    if type(value) is int and value >= 0:  # not bool, which is an int too
        return value
    raise CountError(f"the answer's {what} is {json.dumps(value)}, not a whole number >= 0")


# Answers worth asking again for: too many requests, and the server's own failures.
RETRY_STATUSES = frozenset({429, *range(500, 600)})


class HttpOptions(TypedDict, total=False):
    """The options of every web provider; each defaults to its class's attribute."""

    timeout: float
    retries: int
    backoff: float
    max_delay: float
    min_interval: float
    user_agent: str | None


class _Retry(Retry):
    """urllib3's `Retry` plus two things it lacks: a hook run before every retry
    (the provider's rate limit), and an unreadable Retry-After falling back to
    the backoff instead of failing the request."""

    def __init__(self, *args: Any, before_retry: Callable[[], None] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.before_retry = before_retry

    def new(self, **kw: Any) -> Self:  # each try gets a new Retry: carry the hook over
        kw.setdefault("before_retry", self.before_retry)
        return super().new(**kw)

    def get_retry_after(self, response: BaseHTTPResponse) -> float | None:
        try:
            return super().get_retry_after(response)
        except InvalidHeader:
            return None

    def sleep(self, response: BaseHTTPResponse | None = None) -> None:
        super().sleep(response)
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
            todo += [error.__cause__, error.__context__,
                     *(arg for arg in error.args if isinstance(arg, BaseException))]
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

    def __init__(self, base_url: str, **http: Unpack[HttpOptions]) -> None:
        unknown = sorted(http.keys() - HttpOptions.__annotations__.keys())
        if unknown:
            raise TypeError(f"{type(self).__name__} got unexpected option(s): "
                            f"{', '.join(unknown)}")
        for name, value in http.items():
            setattr(self, name, value)
        if (self.timeout <= 0 or self.retries < 0 or self.backoff < 0 or self.max_delay < 0
                or self.min_interval < 0):
            raise ProviderConfigError("timeout must be > 0; retries, backoff, max_delay and "
                                      "min_interval must be >= 0")
        self.base_url = base_url.rstrip("/")
        retry = _Retry(
            total=self.retries,
            status_forcelist=RETRY_STATUSES,
            backoff_factor=self.backoff,
            backoff_max=self.max_delay,
            retry_after_max=self.max_delay,  # annotated int; urllib3 only compares it
            raise_on_status=False,  # the last answer, to report the API's own message
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
            wait = self._last_request + self.min_interval - time.monotonic()
            if wait > 0:
                time.sleep(wait)
        self._last_request = time.monotonic()

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
            response = self._session.get(url, params=params, headers=headers,
                                         timeout=self.timeout, allow_redirects=follow_redirects)
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


def last_full_months(months: int, today: date | None = None) -> tuple[date, date]:
    """The first and last day of the `months` whole calendar months before `today`."""
    if months < 1:
        raise ValueError("months must be >= 1")
    today = today or date.today()
    end = today.replace(day=1) - timedelta(days=1)
    first_month = end.year * 12 + end.month - 1 - (months - 1)
    return date(first_month // 12, first_month % 12 + 1, 1), end


def wikipedia_title(term: str) -> str:
    """The article title for a term: first letter capitalised, spaces as underscores."""
    phrase = _phrase(term)
    return (phrase[0].upper() + phrase[1:]).replace(" ", "_")


class WikipediaPageviewsProvider(HttpCountProvider):
    """Page views of the English Wikipedia article named by the term, by people
    (agent `user`, all access methods), summed over whole months.

    The window defaults to the 12 full months before today, fixed when the
    provider is made so every term of a run shares it; `start` and `end` widen to
    the whole months they fall in. Views of a redirect count only the redirect
    page, and a term with no article of its name is a `CountError`.
    """

    name = "wikipedia"
    min_interval = 0.1

    def __init__(
        self,
        base_url: str = WIKIMEDIA_PAGEVIEWS_URL,
        *,
        project: str = "en.wikipedia.org",
        start: date | None = None,
        end: date | None = None,
        **http: Unpack[HttpOptions],
    ) -> None:
        if (start is None) != (end is None):
            raise ProviderConfigError(
                "give both start and end, or neither for the last 12 full months"
            )
        if start is None or end is None:
            start, end = last_full_months(12)
        if start > end:
            raise ProviderConfigError(f"start {start} is after end {end}")
        super().__init__(base_url, **http)
        self.project = project
        self.start = start.replace(day=1)
        next_month = (end.replace(day=1) + timedelta(days=32)).replace(day=1)
        self.end = next_month - timedelta(days=1)

    def count(self, term: str) -> int:
        title = wikipedia_title(term)
        url = (f"{self.base_url}/{self.project}/all-access/user/{quote(title, safe='')}"
               f"/monthly/{self.start:%Y%m%d}/{self.end:%Y%m%d}")
        data = self._get_json(
            url,
            not_found=f"no page views for Wikipedia article {title!r} from {self.start} to "
                      f"{self.end} (no article of that name, or no data for the period)",
        )
        items = data.get("items") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise CountError("the answer has no list of monthly 'items'")
        return sum(
            _non_negative_int(item.get("views") if isinstance(item, dict) else None, "views")
            for item in items
        )


class GoogleCustomSearchProvider(HttpCountProvider):
    """Google Custom Search's `searchInformation.totalResults` for the quoted phrase.

    The key and the search engine id come from `GOOGLE_API_KEY` and
    `GOOGLE_CSE_ID` unless given. The count is Google's own rough estimate. The
    free quota is 100 queries a day, so a full hierarchy takes several days or a
    paid quota; a quota answered with 429 fails each term after its retries.

    The key travels in the `X-goog-api-key` header, which Google APIs accept in
    place of `?key=`, so it never appears in a URL that urllib3 logs; redirects,
    which requests would follow with that header to any host, are refused.
    """

    name = "google"
    min_interval = 1.0

    def __init__(
        self,
        base_url: str = GOOGLE_CUSTOM_SEARCH_URL,
        *,
        api_key: str | None = None,
        engine_id: str | None = None,
        **http: Unpack[HttpOptions],
    ) -> None:
        api_key = api_key or os.environ.get("GOOGLE_API_KEY", "")
        engine_id = engine_id or os.environ.get("GOOGLE_CSE_ID", "")
        missing = [name for name, value in
                   (("GOOGLE_API_KEY", api_key), ("GOOGLE_CSE_ID", engine_id)) if not value]
        if missing:
            raise ProviderConfigError(
                f"the google provider needs {' and '.join(missing)} in the environment: "
                "an API key for the Custom Search JSON API and the id (cx) of a Programmable "
                "Search Engine; set them, or use the offline wordfreq provider"
            )
        super().__init__(base_url, **http)
        self._api_key = api_key
        self._engine_id = engine_id

    def count(self, term: str) -> int:
        params = {"cx": self._engine_id, "q": f'"{_phrase(term)}"'}
        data = self._get_json(self.base_url, params, headers={"X-goog-api-key": self._api_key},
                              follow_redirects=False)
        info = data.get("searchInformation") if isinstance(data, dict) else None
        if not isinstance(info, dict) or "totalResults" not in info:
            raise CountError("the answer has no searchInformation.totalResults")
        total = info["totalResults"]
        # The API sends the number as a string of digits ("168000000").
        if isinstance(total, str) and total.isascii() and total.isdigit():
            return int(total)
        return _non_negative_int(total, "totalResults")


_PROVIDER_CLASSES: dict[str, type[CountProvider]] = {
    cls.name: cls
    for cls in (WordfreqProvider, WikipediaPageviewsProvider, GoogleCustomSearchProvider,
                JsonFileProvider)
}
PROVIDERS: tuple[str, ...] = tuple(_PROVIDER_CLASSES)
DEFAULT_PROVIDER = WordfreqProvider.name


def get_provider(name: str = DEFAULT_PROVIDER, **options: Any) -> CountProvider:
    """The provider called `name`, made with `options` (e.g. `path=` for json)."""
    try:
        cls = _PROVIDER_CLASSES[name]
    except KeyError:
        raise ProviderConfigError(
            f"unknown search-count provider {name!r}; choose one of: {', '.join(PROVIDERS)}"
        ) from None
    return cls(**options)


def format_count(n: int | None) -> str:
    """A count for display, three significant figures at most: 2.9B, 168M, 12K, 999, —."""
    if n is None:
        return "—"
    if n < 0:
        raise ValueError(f"counts are never negative, got {n}")
    value = float(n)
    for suffix in ("", "K", "M", "B"):
        text = _short_number(value)
        if float(text) < 1000:  # else it rounded up into the next unit: 999_999 -> 1M
            return text + suffix
        value /= 1000
    return _short_number(value) + "T"


def _short_number(value: float) -> str:
    """One decimal below 10 (2.9), none above (168); a trailing .0 dropped."""
    text = f"{value:.1f}" if value < 9.95 else f"{value:.0f}"
    return text.removesuffix(".0")
