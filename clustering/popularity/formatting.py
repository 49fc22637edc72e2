"""Counts as people read them: 2.9B, 168M, 12K."""

from __future__ import annotations


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
