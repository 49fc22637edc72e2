"""One page of a long list, for the pages that show them in pages (templates/_pager.html)."""

from __future__ import annotations

from collections.abc import Sequence

from flask import request


def page_of(items: Sequence, per_page: int) -> tuple[Sequence, int, int]:
    """The `?page=` of `items`, `per_page` to a page: the slice, the page number
    (kept within the pages), the number of pages (at least 1)."""
    pages = max((len(items) + per_page - 1) // per_page, 1)
    page = min(max(request.args.get("page", 1, type=int), 1), pages)
    return items[(page - 1) * per_page : page * per_page], page, pages
