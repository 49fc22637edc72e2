"""The search-count cache: fill it from a provider, and read counts for pages."""

from __future__ import annotations

import json
import time

from sqlalchemy import bindparam, select
from tqdm import tqdm

from clustering.familiarity import terms_for_synset
from clustering.popularity import CountError, get_provider
from survey_app.caches import caches, kept
from survey_app.database import execute
from survey_app.extensions import db
from survey_app.models import SearchCount, Synset, utcnow

COMMIT_EVERY = 50  # rows per transaction: a stopped run loses at most this many


def synset_terms() -> dict[str, list[str]]:
    """wnid -> the search terms (every lemma) of every seeded synset: a synset's
    familiarity is its best lemma's, shared among the word's senses."""
    return {
        s.wnid: terms_for_synset(json.loads(s.lemmas_json))
        for s in db.session.scalars(select(Synset))
    }


def fill_search_counts(
    provider_name: str,
    retry_failed: bool = False,
    progress: bool = True,
    give_up_after: int = 20,
    **provider_options,
) -> dict[str, int]:
    """Fetch a count for each synset's term not yet cached for this provider.
    A failed term is stored with its error and never stops the run, but
    `give_up_after` failures in a row (an unreachable service) end it early;
    the next run resumes from there."""
    with get_provider(provider_name, **provider_options) as provider:
        stored = {
            row.term: row
            for row in db.session.scalars(
                select(SearchCount).where(SearchCount.provider == provider.name)
            )
        }
        terms = sorted({t for terms in synset_terms().values() for t in terms})
        todo = [t for t in terms if t not in stored or (retry_failed and stored[t].count is None)]
        result = {"fetched": 0, "failed": 0, "cached": len(terms) - len(todo), "stopped": 0}
        failures_in_a_row = 0
        bar = tqdm(
            todo, desc=f"counts ({provider.name})", unit="term", disable=not progress or not todo
        )
        for number, term in enumerate(bar, start=1):
            row = stored.get(term) or SearchCount(term=term, provider=provider.name)
            try:
                row.count, row.error = provider.count(term), None
                result["fetched"] += 1
                failures_in_a_row = 0
            except CountError as exc:
                row.count, row.error = None, str(exc)
                result["failed"] += 1
                failures_in_a_row += 1
            row.fetched_at = utcnow()
            db.session.add(row)
            if number % COMMIT_EVERY == 0:
                db.session.commit()
            if failures_in_a_row >= give_up_after:
                result["stopped"] = len(todo) - number
                break
        bar.close()
    db.session.commit()
    caches().clear()  # this process shows the new counts, and what derives from them, at once
    return result


# Core rows rather than ORM objects: the pages read every count at once (recent_counts).
_search_counts = SearchCount.__table__
_CACHED = (
    select(_search_counts.c.term, _search_counts.c.count, _search_counts.c.provider)
    .where(_search_counts.c.count.is_not(None))
    .order_by(_search_counts.c.fetched_at)
)
_CACHED_FOR_TERMS = _CACHED.where(_search_counts.c.term.in_(bindparam("terms", expanding=True)))
# How old the counts a process shows may be: they change only when `flask
# fill-counts` runs, usually in another process.
COUNTS_MAX_AGE_SECONDS = 60


def cached_counts(terms: list[str] | None = None) -> dict[str, tuple[int | None, str]]:
    """term -> (count, provider) from the cache, never from the network; where
    several providers have a term, a web provider's count wins over wordfreq's."""
    rows = execute(_CACHED) if terms is None else execute(_CACHED_FOR_TERMS, terms=terms)
    counts: dict[str, tuple[int | None, str]] = {}
    for term, count, provider in rows:
        if term not in counts or counts[term][1] == "wordfreq":
            counts[term] = (count, provider)
    return counts


def recent_counts() -> dict[str, tuple[int | None, str]]:
    """cached_counts() for every term, as this process read them at most
    COUNTS_MAX_AGE_SECONDS ago: asking the database for a class's counts was a
    tenth of the annotate page's time."""
    period = int(time.monotonic() // COUNTS_MAX_AGE_SECONDS)
    return kept("counts", period, cached_counts)


def recent_word_counts() -> dict[str, int | None]:
    """recent_counts() without the providers (term -> count), made once per read
    of the counts: the class list and the suggestions need every term's count."""
    recent = recent_counts()
    return kept(
        "word_counts", recent, lambda: {term: count for term, (count, _provider) in recent.items()}
    )
