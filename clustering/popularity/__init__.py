"""Search counts: how familiar a word is, as a hint beside each synset of a chain.

Every source is a `CountProvider` with a `name` and `count(term) -> int`, where a
term is a synset lemma ("domestic_animal": underscores mean spaces) or a phrase.
A provider raises `CountError` when it cannot count one term; `count_many` records
such failures per term and carries on, so one bad answer never aborts a run.

Providers (`PROVIDERS`, built by `get_provider(name, **options)`), a module each:

- `wordfreq` (default, offline): wordfreq's frequency scaled to a web-sized corpus;
- `json` (offline): a file `{term: count}`, the format the original survey app used;
- `wikipedia`: English Wikipedia page views per article, summed over whole months;
- `google`: Google Custom Search's estimated total results.

The modules: `base` (the interface, its errors and result), `offline` (wordfreq and
the counts file), `http` (what the web providers share: `HttpCountProvider` and its
`HttpOptions`: a timeout, urllib3's retries with exponential backoff on 429 and 5xx
honouring Retry-After, capped, a minimum interval between requests, and answers that
are not the expected JSON turned into `CountError`), `wikipedia`, `google`, and
`formatting` (counts for display). This module names the providers and re-exports
the public names, so `from clustering.popularity import X` reaches each of them.
"""

from __future__ import annotations

from typing import Any

from clustering.popularity.base import CountError, CountProvider, CountResult, ProviderConfigError
from clustering.popularity.formatting import format_count
from clustering.popularity.google import GoogleCustomSearchProvider
from clustering.popularity.http import HttpCountProvider, HttpOptions
from clustering.popularity.offline import WEB_CORPUS_TOKENS, JsonFileProvider, WordfreqProvider
from clustering.popularity.wikipedia import (
    WikipediaPageviewsProvider,
    last_full_months,
    wikipedia_title,
)

__all__ = [
    "DEFAULT_PROVIDER",
    "PROVIDERS",
    "WEB_CORPUS_TOKENS",
    "CountError",
    "CountProvider",
    "CountResult",
    "GoogleCustomSearchProvider",
    "HttpCountProvider",
    "HttpOptions",
    "JsonFileProvider",
    "ProviderConfigError",
    "WikipediaPageviewsProvider",
    "WordfreqProvider",
    "format_count",
    "get_provider",
    "last_full_months",
    "wikipedia_title",
]

_PROVIDER_CLASSES: dict[str, type[CountProvider]] = {
    cls.name: cls
    for cls in (
        WordfreqProvider,
        WikipediaPageviewsProvider,
        GoogleCustomSearchProvider,
        JsonFileProvider,
    )
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
