"""Which class an annotator sees next, where "previous" leads, and progress.

"Next" is, among the classes the annotator has neither voted on nor skipped and
that the queue has not closed (`survey_app.class_states`), the first of:

1. a class among the first `batch` open classes (by class index) that others have
   voted on or hold, the fewest votes and holds first: votes overlap from the first
   hour, so the team sees agreement (and the admin disagreements) early;
2. a class among those first `batch` open classes that nobody has voted on or holds;
3. beyond them, a started class (the fewest votes first) before a new one, then
   by class index;
4. a class among the first `batch` whose votes and holds have reached MAX_VOTES,
   the fewest first, then by class index.

A hold (models.QueueHold) is the class the queue last led an annotator to, through
the vote form or /next, counted as their vote to come until they vote on it or
QUEUE_HOLD_SECONDS pass; in 1, 2 and 4 a class's "votes" are the annotators who
voted on it, and its holds those of others. Without holds, every annotator who asked
at the same moment got the batch's one class with the fewest votes: 32 annotators
put up to 32 votes on a class that closes at 5, and queued behind its lock. With
them, a class gets no more annotators at once than it can take votes, and the rest
go on to the next. Two asking at the very same moment, before either's hold is
stored, may still get the same class; a class that closes while they look at it
(its votes agreed early) still takes their votes. "Previous" walks back
through the classes in the order of the annotator's first vote on each, like a
browser's back button; a vote, even on a reopened class, leads back to new work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app, g
from sqlalchemy import (
    ColumnElement,
    and_,
    bindparam,
    case,
    exists,
    false,
    func,
    select,
    true,
)

from survey_app.database import execute, hierarchy_from_db, upserts
from survey_app.extensions import db
from survey_app.models import (
    AnnotatorTally,
    ClassTally,
    QueueCount,
    QueueHold,
    QueueOffer,
    Skip,
    Vote,
    utcnow,
)
from survey_app.survey_settings import SurveySettings, queue_parameters, survey_settings

# Core statements built once and run on the session's connection: the ORM's
# per-statement cost was most of each request's time. The per-class counts and
# whether a class is closed come from `class_tallies` (see models.ClassTally), the
# number of closed classes from `queue_counts`, an annotator's classes voted on from
# `annotator_tallies`.
#
# "Next" is asked in three parts, each walking one index in the queue's order and
# stopping at the first class it may give, so that it reads about `batch` rows
# whatever the number of classes: asked as one ordered query over every class it
# read them all (8 ms at 21,843 classes). The first part that finds a class answers.
# The batch and the new classes are walked in `class_tallies`, passing over those the
# annotator has voted on or skipped; the started classes beyond the batch in the
# annotator's own `queue_offers` (migration 0009), which hold none of theirs: in
# `class_tallies` the walk read every open class they had voted on first, all 21,843
# for an annotator of ImageNet-21k whose votes had not closed them (9 ms a request).
_tallies, _votes, _skips = ClassTally.__table__, Vote.__table__, Skip.__table__
_counts, _annotators_voted = QueueCount.__table__, AnnotatorTally.__table__
_holds = QueueHold.__table__
_offers = QueueOffer.__table__
_user = bindparam("user_id")
_max_votes = bindparam("max_votes")
_is_open = _tallies.c.closed == false()


def _available(tallies):
    """Neither voted on nor skipped by the annotator."""
    return and_(
        ~exists().where(
            _votes.c.annotator_id == _user, _votes.c.class_wnid == tallies.c.class_wnid
        ),
        ~exists().where(
            _skips.c.annotator_id == _user, _skips.c.class_wnid == tallies.c.class_wnid
        ),
    )


# Others' holds on the class that have not lapsed (`now`, bound by the caller) and
# whose holder has not voted on it yet (ix_queue_holds_class, then a probe of
# ix_votes_annotator_class per hold).
_held = (
    select(func.count())
    .where(
        _holds.c.class_wnid == _tallies.c.class_wnid,
        _holds.c.held_until > bindparam("now"),
        _holds.c.annotator_id != _user,
        ~exists().where(
            _votes.c.annotator_id == _holds.c.annotator_id,
            _votes.c.class_wnid == _holds.c.class_wnid,
        ),
    )
    .scalar_subquery()
)
# The first `batch` open classes, by index (ix_class_tallies_open), each with its
# annotators and others' holds: the votes it has and those to come.
_batch = (
    select(
        _tallies.c.class_wnid,
        _tallies.c.class_index,
        (_tallies.c.annotators + _held).label("expected"),
    )
    .where(_is_open)
    .order_by(_tallies.c.class_index)
    .limit(bindparam("batch"))
    .subquery("batch")
)
# The class index where they end (NULL: fewer are open, and none is beyond them).
_batch_end = (
    select(_tallies.c.class_index)
    .where(_is_open)
    .order_by(_tallies.c.class_index)
    .offset(bindparam("batch") - 1)
    .limit(1)
    .scalar_subquery()
)
_beyond_batch = _tallies.c.class_index > _batch_end


def _next_class(besides: bool) -> ColumnElement:
    """The queue's next class for the annotator; with `besides`, other than the class
    `class_wnid`."""

    def other(wnid_column):
        return wnid_column != bindparam("class_wnid") if besides else true()

    taken_in_batch = _available(_batch), other(_batch.c.class_wnid)
    # Those whose votes and holds have not reached the most votes a class takes.
    in_batch = (
        select(_batch.c.class_wnid)
        .where(*taken_in_batch, _batch.c.expected < _max_votes)
        .order_by(
            case((_batch.c.expected == 0, 1), else_=0),
            _batch.c.expected,
            _batch.c.class_index,
        )
        .limit(1)
    )
    # The others: given only where nothing else is left.
    full_in_batch = (
        select(_batch.c.class_wnid)
        .where(*taken_in_batch, _batch.c.expected >= _max_votes)
        .order_by(_batch.c.expected, _batch.c.class_index)
        .limit(1)
    )
    # Beyond the batch, the started classes by annotators then index: the
    # annotator's first offer (ix_queue_offers_queue) past the batch's own.
    started = (
        select(_offers.c.class_wnid)
        .where(_offers.c.annotator_id == _user, _offers.c.class_index > _batch_end)
        .where(other(_offers.c.class_wnid))
        .order_by(_offers.c.annotators, _offers.c.class_index)
        .limit(1)
    )
    # Then the new ones by index (ix_class_tallies_open_queue).
    new = (
        select(_tallies.c.class_wnid)
        .where(_is_open, _tallies.c.annotators == 0, _beyond_batch)
        .where(_available(_tallies), other(_tallies.c.class_wnid))
        .order_by(_tallies.c.class_index)
        .limit(1)
    )
    return func.coalesce(
        in_batch.scalar_subquery(),
        started.scalar_subquery(),
        new.scalar_subquery(),
        full_in_batch.scalar_subquery(),
    )


_NEXT = select(_next_class(besides=False))
# The voting order: each class the annotator voted on, by the id of their first
# vote on it. Its neighbours are found by walking the annotator's votes by id
# (ix_votes_annotator_id) from this class's first vote to the nearest vote that
# is the first on its class, rather than grouping all their votes by class,
# which took a millisecond a request once an annotator had a few hundred.
_first_vote_here = (
    select(func.min(_votes.c.id))
    .where(_votes.c.annotator_id == _user, _votes.c.class_wnid == bindparam("class_wnid"))
    .scalar_subquery()
)
_earlier = _votes.alias("earlier")
_is_first_vote = ~exists().where(
    _earlier.c.annotator_id == _votes.c.annotator_id,
    _earlier.c.class_wnid == _votes.c.class_wnid,
    _earlier.c.id < _votes.c.id,
)
_first_votes = select(_votes.c.class_wnid).where(_votes.c.annotator_id == _user, _is_first_vote)
# One bound on the id, not "none yet OR below it", so that the walk starts at the
# class's first vote: under the OR it started at the newest vote and filtered down.
_NO_VOTE_YET = 2**62  # above every vote id
_previous = (
    _first_votes.where(_votes.c.id < func.coalesce(_first_vote_here, _NO_VOTE_YET))
    .order_by(_votes.c.id.desc())
    .limit(1)
)
_annotators = select(_tallies.c.annotators).where(_tallies.c.class_wnid == bindparam("class_wnid"))
# What the annotate page shows besides the class (around_class, progress), as
# columns for the page's one statement (survey_app.annotate_reads).
AROUND_COLUMNS = (
    _previous.scalar_subquery().label("previous"),
    _annotators.scalar_subquery().label("annotators"),
    # The class Enter will most likely lead to, looked up before the vote so the
    # page can prefetch its pictures: the queue's next class other than this one.
    _next_class(besides=True).label("following"),
)
PROGRESS_COLUMNS = (
    func.coalesce(
        select(_annotators_voted.c.classes)
        .where(_annotators_voted.c.annotator_id == _user)
        .scalar_subquery(),
        0,
    ).label("voted"),
    select(_counts.c.closed_classes).where(_counts.c.id == 1).scalar_subquery().label("complete"),
)
_AROUND_CLASS = select(*AROUND_COLUMNS)
_PROGRESS = select(*PROGRESS_COLUMNS)
_KEPT_PROGRESS = "queue_progress"  # the key in flask.g


@dataclass(frozen=True)
class Progress:
    voted: int  # classes this annotator has voted on
    complete: int  # classes the queue has closed (agreement enough, or the most votes)
    total: int
    settings: SurveySettings

    def as_dict(self) -> dict:
        rule = self.settings.closing
        return {
            "annotator": {"voted": self.voted, "total": self.total},
            "team": {
                "complete": self.complete,
                "total": self.total,
                "min_votes": rule.min_votes,
                "max_votes": rule.max_votes,
                "target": rule.target,
            },
        }


# The hold's row written: one per annotator, replaced at each lead.
HOLD = upserts(
    _holds,
    {
        "annotator_id": bindparam("user_id"),
        "class_wnid": bindparam("held_wnid"),
        "held_until": bindparam("held_until"),
    },
    "annotator_id",
)


def hold_until() -> datetime | None:
    """When a hold taken now lapses; None where QUEUE_HOLD_SECONDS is 0 (no holds)."""
    seconds = current_app.config["QUEUE_HOLD_SECONDS"]
    return utcnow() + timedelta(seconds=seconds) if seconds else None


def next_class(user_id: int, settings: SurveySettings | None = None) -> str | None:
    """The queue's next class for the annotator, without holding it (the home page's
    link, the API's answer to a vote)."""
    parameters = queue_parameters(settings or survey_settings())
    return execute(_NEXT, user_id=user_id, now=utcnow(), **parameters).scalar()


def lead_to_next(user_id: int) -> str | None:
    """The queue's next class for the annotator, held for them (/next); commits."""
    wnid = next_class(user_id)
    until = hold_until()
    if wnid is not None and until is not None:
        dialect = db.session.get_bind().dialect.name
        execute(HOLD[dialect], user_id=user_id, held_wnid=wnid, held_until=until)
    db.session.commit()
    return wnid


def around_class(user_id: int, class_wnid: str) -> tuple[str | None, int, str | None]:
    """What the annotate page shows besides the class, in one round trip: the
    class voted on just before this one (for a class not voted on yet, the last
    one voted on), how many annotators have voted on this one, and where voting
    on it now would most likely lead (_next_class besides this one)."""
    previous, annotators, following = execute(
        _AROUND_CLASS,
        user_id=user_id,
        class_wnid=class_wnid,
        now=utcnow(),
        **queue_parameters(survey_settings()),
    ).one()
    return previous, annotators or 0, following


def class_after_vote(user_id: int) -> str | None:
    """Where Enter leads after a vote: the queue's next class, new work even after
    changing an old vote (walking on through older votes is Backspace's job)."""
    return next_class(user_id)


def progress(user_id: int) -> Progress:
    """The annotator's and the team's progress; read once per request (kept in `g`),
    by the annotate page's own statement where it ran (`keep_progress`)."""
    if _KEPT_PROGRESS not in g:
        keep_progress(*execute(_PROGRESS, user_id=user_id).one())
    return getattr(g, _KEPT_PROGRESS)


def keep_progress(voted: int, complete: int) -> None:
    """What `progress()` answers for the rest of the request: counts read with another
    statement (PROGRESS_COLUMNS)."""
    setattr(
        g,
        _KEPT_PROGRESS,
        Progress(
            voted=voted,
            complete=complete,
            total=len(hierarchy_from_db().classes),
            settings=survey_settings(),
        ),
    )
