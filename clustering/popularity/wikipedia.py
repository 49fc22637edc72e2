"""English Wikipedia's page views per article, summed over whole months."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Unpack
from urllib.parse import quote

from clustering.popularity.base import CountError, ProviderConfigError, search_phrase
from clustering.popularity.http import HttpCountProvider, HttpOptions, whole_number

WIKIMEDIA_PAGEVIEWS_URL = "https://wikimedia.org/api/rest_v1/metrics/pageviews/per-article"


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
    phrase = search_phrase(term)
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
        url = (
            f"{self.base_url}/{self.project}/all-access/user/{quote(title, safe='')}"
            f"/monthly/{self.start:%Y%m%d}/{self.end:%Y%m%d}"
        )
        data = self._get_json(
            url,
            not_found=f"no page views for Wikipedia article {title!r} from {self.start} to "
            f"{self.end} (no article of that name, or no data for the period)",
        )
        items = data.get("items") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise CountError("the answer has no list of monthly 'items'")
        return sum(
            whole_number(item.get("views") if isinstance(item, dict) else None, "views")
            for item in items
        )
