"""What the annotate page reads from the database for the annotator, in one
statement: the annotator's vote for the class, the survey's settings, whether
others have voted on it, where "previous" and Enter lead, how many have voted
on it, and the progress in the header. Asked one by one, these were five round
trips to PostgreSQL of the page's seven (benchmarks/load_votes.py).

Where Enter leads is asked only when the page can prefetch that class's pictures:
it is the queue's dearest question (it walks the open classes past those the
annotator has voted on or skipped), and without an image source there is nothing
to prefetch."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Row, literal, select, true

from survey_app import class_states, work_queue
from survey_app.models import utcnow
from survey_app.survey_settings import SETTING_COLUMNS, SurveySettings, read_with_queue_settings
from survey_app.votes import LATEST

_mine = LATEST.subquery("mine")


def _page_statement(around):
    """The annotator's vote joined on to one row of the other answers: its columns by
    their names, NULL where there is none."""
    return select(
        *SETTING_COLUMNS,
        class_states.OTHERS_VOTED,
        *around,
        *work_queue.PROGRESS_COLUMNS,
        *_mine.c,
    ).select_from(select(literal(1).label("one")).subquery("one").outerjoin(_mine, true()))


# (whether it asks where Enter leads) -> the statement
_PAGE = {
    True: _page_statement(work_queue.AROUND_COLUMNS),
    False: _page_statement(c for c in work_queue.AROUND_COLUMNS if c.name != "following"),
}


@dataclass(frozen=True)
class PageReads:
    my_vote: Row | None  # the annotator's vote that counts for the class (votes.latest_vote)
    settings: SurveySettings
    others_voted: bool  # whether anyone else has voted on the class
    previous: str | None  # work_queue.around_class
    annotators: int
    following: str | None  # None too where it was not asked


def page_reads(user_id: int, class_wnid: str, following: bool = True) -> PageReads:
    """The page's reads; the settings and the progress are kept for the rest of the
    request (survey_settings(), work_queue.progress()). `following`: whether to ask
    where Enter leads (work_queue.AROUND_COLUMNS), with the queue's settings as
    `read_with_queue_settings` reads it."""
    rows, settings = read_with_queue_settings(
        _PAGE[following], user_id=user_id, class_wnid=class_wnid, now=utcnow()
    )
    row = rows[0]
    work_queue.keep_progress(row.voted, row.complete)
    return PageReads(
        my_vote=row if row.id is not None else None,
        settings=settings,
        others_voted=bool(row.others_voted),
        previous=row.previous,
        annotators=row.annotators or 0,
        following=row.following if following else None,
    )
