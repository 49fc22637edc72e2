"""The errors of `clustering`: one base, so a command line catches them all at once.

Each error's message says what went wrong and what to do, and is printed as it is.
Errors about a value a caller passed in also derive from `ValueError` (and those about
the machine from `RuntimeError`), so callers that catch those keep working.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = ["ClusteringError", "ProblemsError"]


class ClusteringError(Exception):
    """Anything `clustering` refuses or cannot do, said in words a user can act on."""


class ProblemsError(ClusteringError, ValueError):
    """Input with several things wrong: `problems` lists each, the message shows the
    first `max_shown` of them under a headline, and the count of the rest."""

    max_shown: ClassVar[int] = 30

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        shown = "\n".join(f"  - {p}" for p in problems[: self.max_shown])
        more = (
            f"\n  ... and {len(problems) - self.max_shown} more"
            if len(problems) > self.max_shown
            else ""
        )
        super().__init__(f"{self.headline()}:\n{shown}{more}")

    def headline(self) -> str:
        return f"{self.source}: {len(self.problems)} problem(s)"
