"""Google Custom Search's estimated number of results for a phrase."""

from __future__ import annotations

import os
from typing import Unpack

from clustering.popularity.base import CountError, ProviderConfigError, search_phrase
from clustering.popularity.http import HttpCountProvider, HttpOptions, whole_number

GOOGLE_CUSTOM_SEARCH_URL = "https://www.googleapis.com/customsearch/v1"


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
        missing = [
            name
            for name, value in (("GOOGLE_API_KEY", api_key), ("GOOGLE_CSE_ID", engine_id))
            if not value
        ]
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
        params = {"cx": self._engine_id, "q": f'"{search_phrase(term)}"'}
        data = self._get_json(
            self.base_url, params, headers={"X-goog-api-key": self._api_key}, follow_redirects=False
        )
        info = data.get("searchInformation") if isinstance(data, dict) else None
        if not isinstance(info, dict) or "totalResults" not in info:
            raise CountError("the answer has no searchInformation.totalResults")
        total = info["totalResults"]
        # The API sends the number as a string of digits ("168000000").
        if isinstance(total, str) and total.isascii() and total.isdigit():
            return int(total)
        return whole_number(total, "totalResults")
