"""Free text as the app stores it (a vote's comment, a decision's note, the survey's
guidelines): one check for every path that writes one, a form, an API call or a restore,
so that what SQLite takes PostgreSQL takes too."""

from __future__ import annotations


def clean_text(text: str | None, what: str, max_length: int) -> str | None:
    """The text trimmed, None when empty; ValueError naming `what` when it is longer
    than `max_length` characters or holds what PostgreSQL cannot store (a NUL byte) or
    UTF-8 cannot encode (a lone surrogate)."""
    if text is None:
        return None
    text = text.strip()
    if len(text) > max_length:
        raise ValueError(f"the {what} may have at most {max_length:,} characters")
    if "\x00" in text or not _encodable(text):
        raise ValueError(f"a NUL byte or a lone surrogate cannot be stored in the {what}")
    return text or None


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
