"""Providers that need no network: wordfreq's estimate, and counts read from a file."""

from __future__ import annotations

import json
from pathlib import Path

from wordfreq import word_frequency

from clustering.popularity.base import CountError, CountProvider, ProviderConfigError, search_phrase

# wordfreq gives a word's share of all tokens of English text. Multiplying by a
# corpus size turns that share into an expected number of occurrences, a number on
# the scale of a web search count. 10**12 tokens is the order of Google's Web 1T
# n-gram corpus (1.02e12 tokens), so "dog" (1.26e-4) estimates to 126M.
WEB_CORPUS_TOKENS = 10**12


class WordfreqProvider(CountProvider):
    """Offline estimate: `wordfreq.word_frequency(phrase, "en") * WEB_CORPUS_TOKENS`.

    For a phrase, wordfreq combines its words' frequencies f1, f2, ... as
    1/f = 1/f1 + 1/f2 + ..., so the rarest word dominates and a phrase never
    outranks its rarest word; a phrase with any unknown word, like an unknown
    word, counts 0. Deterministic for a given wordfreq version.
    """

    name = "wordfreq"

    def count(self, term: str) -> int:
        return round(word_frequency(search_phrase(term), "en") * WEB_CORPUS_TOKENS)


def _read_counts_file(path: Path) -> dict[str, int]:
    """Load and check a `{term: count}` file, naming the first problems found."""
    fix = 'give a JSON object mapping each term to a whole number, e.g. {"dog": 168000000}'
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
    bad = [(term, value) for term, value in data.items() if type(value) is not int or value < 0]
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
