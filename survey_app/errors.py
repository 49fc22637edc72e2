"""The survey's one error base. Every error the survey raises on purpose
derives from `SurveyError` (keeping its ValueError, RuntimeError or LookupError
base for callers that catch those), so every `flask` command (cli.py) ends on
any of them with its message. The pages answer UnknownClass with 404
(error_pages.py) and turn the others into form errors where they arise."""

from __future__ import annotations


class SurveyError(Exception):
    """An error of the survey app whose message is meant for a person."""


class UnknownClass(SurveyError, LookupError):
    """No such class in the survey (HTTP 404); `database.require_class` raises it."""
