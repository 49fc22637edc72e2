"""What every search-count provider shares: the interface, its errors and its result."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import ClassVar, Self

from tqdm import tqdm

from clustering.errors import ClusteringError


class CountError(ClusteringError):
    """One term could not be counted; the message says why, for the cache and the log."""


class ProviderConfigError(ClusteringError, ValueError):
    """A provider cannot be set up at all (missing key, corrupt file, unknown name)."""


@dataclass(frozen=True)
class CountResult:
    """The outcome for one term: a count, or the error that prevented one."""

    term: str
    count: int | None
    error: str | None


def search_phrase(term: str) -> str:
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
        with tqdm(
            unique, desc=f"search counts ({self.name})", unit="term", disable=not progress
        ) as bar:
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
