"""The survey's one error base. Every error the survey raises on purpose
derives from `SurveyError`, so the `flask` commands (cli.py) end on any of
them with its message, and the pages (error_pages.py) answer them."""

from __future__ import annotations


class SurveyError(Exception):
    """An error of the survey app whose message is meant for a person."""


class UnknownClass(SurveyError, LookupError):
    """No such class in the survey (HTTP 404); `database.require_class` raises it."""
