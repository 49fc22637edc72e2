"""How fast each annotator votes: the median seconds per class, the time the
classes they have left would take at that pace, and their votes per day.

A class's time is the gap between a vote and the annotator's vote before it;
gaps longer than BREAK_SECONDS are breaks, not work, and are left out."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise

from sqlalchemy import func, select

from survey_app.caches import kept
from survey_app.extensions import db
from survey_app.models import Vote

BREAK_SECONDS = 600
DAYS_SHOWN = 14  # the sparkline's days, today the last


@dataclass(frozen=True)
class Pace:
    classes: int  # classes voted on
    median_seconds: float | None  # None before two votes in one sitting
    seconds_left: float | None  # at the median, for the classes not voted on yet
    per_day: tuple[int, ...]  # votes on each of the last DAYS_SHOWN days, oldest first
    last_vote: datetime  # when the latest vote was cast

    @property
    def sparkline(self) -> str:
        """SVG polyline points in a 0..100 x 0..20 box: the votes per day."""
        top = max(self.per_day) or 1
        step = 100 / (len(self.per_day) - 1)
        return " ".join(
            f"{i * step:.1f},{20 - 18 * n / top:.1f}" for i, n in enumerate(self.per_day)
        )


def paces(
    total_classes: int, annotator_ids: list[int] | None = None, today: date | None = None
) -> dict[int, Pace]:
    """annotator id -> Pace, for those with votes (or the ids given)."""
    query = select(Vote.annotator_id, Vote.class_wnid, Vote.created_at).order_by(
        Vote.annotator_id, Vote.id
    )
    if annotator_ids is not None:
        query = query.where(Vote.annotator_id.in_(annotator_ids))
    today = today or datetime.now(UTC).date()
    first_day = today - timedelta(days=DAYS_SHOWN - 1)
    rows: dict[int, list] = {}
    for row in db.session.execute(query):
        rows.setdefault(row.annotator_id, []).append(row)
    result = {}
    for annotator, votes in rows.items():
        gaps = [(b.created_at - a.created_at).total_seconds() for a, b in pairwise(votes)]
        work = [gap for gap in gaps if 0 <= gap <= BREAK_SECONDS]
        classes = len({v.class_wnid for v in votes})
        median = statistics.median(work) if work else None
        per_day = [0] * DAYS_SHOWN
        for vote in votes:
            day = (vote.created_at.date() - first_day).days
            if 0 <= day < DAYS_SHOWN:
                per_day[day] += 1
        result[annotator] = Pace(
            classes,
            median,
            median * (total_classes - classes) if median else None,
            tuple(per_day),
            max(vote.created_at for vote in votes),
        )
    return result


def every_pace(total_classes: int) -> dict[int, Pace]:
    """paces() of every annotator, as this process last computed them while no
    vote has been added since, on the same day: the admin page would read every
    vote on each visit otherwise. Votes are only ever added, so the newest vote's
    id tells whether they changed."""
    today = datetime.now(UTC).date()
    key = (db.session.scalar(select(func.max(Vote.id))), total_classes, today)
    return kept("paces", key, lambda: paces(total_classes, today=today))


def annotator_pace(total_classes: int, annotator_id: int) -> Pace | None:
    """paces() of one annotator, as this process last computed them while they have
    added no vote since, on the same day: their home page would read all of their
    votes on each visit otherwise (21,843 of them at ImageNet-21k's size). Their
    newest vote's id, found in the index of their votes, tells whether they changed."""
    today = datetime.now(UTC).date()
    newest = select(func.max(Vote.id)).where(Vote.annotator_id == annotator_id)
    key = (db.session.scalar(newest), total_classes, today)
    return kept(
        ("pace", annotator_id),
        key,
        lambda: paces(total_classes, [annotator_id], today).get(annotator_id),
    )


def duration(seconds: float | None) -> str:
    """ "42 s", "3 min", "5.2 h", or "—"."""
    if seconds is None:
        return "—"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
