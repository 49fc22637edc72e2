"""The CIL the database's votes and decisions give now, for the review pages
and `flask export-cil` alike.

Rows are read by `clustering.dbread`, the same code that `python -m clustering
aggregate --db URL` runs, so both routes give the same CIL.
"""

from __future__ import annotations

from sqlalchemy import func, select

from clustering import dbread
from clustering.aggregate import DEFAULT_TIE_BREAK, Aggregation, aggregate
from clustering.conflicts import DEFAULT_POLICY
from clustering.votes import Decision, LabelDecision, Vote
from survey_app import class_states, models
from survey_app.caches import kept
from survey_app.database import hierarchy_from_db
from survey_app.extensions import db
from survey_app.survey_settings import survey_settings


def database_votes() -> list[Vote]:
    """Every vote in the database, oldest first."""
    return dbread.read_votes(db.session.connection())


def database_decisions() -> list[Decision | LabelDecision]:
    """Every admin decision in the database: class decisions, then label decisions,
    each oldest first."""
    return dbread.read_decisions(db.session.connection())


# Where the append-only vote and decision logs end: a new row changes it.
_LOG_POSITION = select(
    select(func.max(models.Vote.id)).scalar_subquery(),
    select(func.max(models.Decision.id)).scalar_subquery(),
    select(func.max(models.LabelDecision.id)).scalar_subquery(),
)
# Aggregations kept per process, one per setting asked for (the review pages
# ask for one; the downloads may ask for others): more are forgotten.
AGGREGATIONS_KEPT = 8
# The queue's numbers (clustering.confidence), which the export reads too.
SURVEY_WEIGHTING = "confidence"


def current_aggregation(
    min_votes: int | None = None,
    conflicts: str = DEFAULT_POLICY,
    weighting: str = SURVEY_WEIGHTING,
    tie_break: str = DEFAULT_TIE_BREAK,
) -> Aggregation:
    """The CIL the database's votes and decisions give now (see
    `clustering.aggregate`). Every review page shows it, and it reads every
    vote: it is computed once per position of the logs (and hierarchy and
    settings), and kept until a vote or decision is added. `min_votes` is by default
    the fewest votes the queue closes a class with. By default each class's
    label is the most probable one given its votes, the annotators' reliability and
    the model's prior: the numbers the queue closes classes by (`class_states`)."""
    position = tuple(db.session.execute(_LOG_POSITION).one())
    if min_votes is None:  # a class the queue may close is a decided one
        min_votes = survey_settings().closing.min_votes
    settings = (min_votes, conflicts, weighting, tie_break)
    by_settings = kept("aggregations", None, dict)
    if settings in by_settings and by_settings[settings][0] == position:
        return by_settings[settings][1]
    result = aggregate(
        hierarchy_from_db(),
        database_votes(),
        database_decisions(),
        min_votes=min_votes,
        tie_break=tie_break,
        weighting=weighting,
        conflicts=conflicts,
        source="database",
        check_decisions=False,  # the review pages show broken decisions; exports refuse
        priors=class_states.priors(),
        suggestions=class_states.suggestions(),
    )
    if settings not in by_settings and len(by_settings) >= AGGREGATIONS_KEPT:
        by_settings.clear()
    by_settings[settings] = (position, result)
    return result
