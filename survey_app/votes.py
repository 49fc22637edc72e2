"""Recording votes and skips, and reading an annotator's latest votes.

Votes are append-only: a changed mind is a new row and the latest row per
(annotator, class) counts. A resent form (same `submission_id`) and a vote
identical to the annotator's latest one for the class add nothing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from flask import current_app
from sqlalchemy import Row, bindparam, func, insert, literal, select, true
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from clustering.votes import Vote as LoggedVote
from clustering.votes import as_utc
from survey_app import class_states, stored_text
from survey_app.database import (
    execute,
    hierarchy_from_db,
    read_without_transaction,
    require_class,
)
from survey_app.errors import SurveyError
from survey_app.extensions import db
from survey_app.models import AnnotatorTally, ClassState, Skip, User, Vote, utcnow
from survey_app.survey_settings import SETTING_COLUMNS, keep_for_request, settings_from_row

if TYPE_CHECKING:
    from survey_app.auth import SessionUser

COMMENT_MAX = 1000  # characters of a vote's comment or a decision's note
# \Z, not $, which also matches before a final newline (see USERNAME_RE).
SUBMISSION_ID_RE = r"[A-Za-z0-9_-]{8,64}\Z"
SUBMISSION_ID_RULE = "8 to 64 letters, digits, '_' or '-'"

# The vote path reads and writes rows of `votes` with Core statements built
# once, on the session's connection and in its transaction: the ORM cost more
# than the database did. Such a row has the columns of Vote as attributes.
_votes = Vote.__table__
LATEST = (
    select(_votes)
    .where(
        _votes.c.annotator_id == bindparam("user_id"),
        _votes.c.class_wnid == bindparam("class_wnid"),
    )
    .order_by(_votes.c.id.desc())
    .limit(1)
)
_BY_SUBMISSION = select(_votes).where(_votes.c.submission_id == bindparam("submission_id"))
# The time of the annotator's n-th latest vote, along ix_votes_annotator_id.
_NTH_LATEST_TIME = (
    select(_votes.c.created_at)
    .where(_votes.c.annotator_id == bindparam("user_id"))
    .order_by(_votes.c.id.desc())
    .offset(bindparam("skip"))
    .limit(1)
)
_ADD = insert(_votes).returning(*_votes.c)
# Everything the vote path asks before it writes, in one statement: a vote stored with
# this submission_id (its annotator and class), the rate limit's time, the survey's
# settings, whether others have voted on the class, the newest vote's id (the skills'
# epoch), the version of the class's state (`vote_rows`; NULL: no row) and, joined on
# (their columns by their names, NULL where there are none), the annotator's latest
# vote for the class and the class's vote rows, one result row each, oldest first.
_by_submission = _BY_SUBMISSION.subquery("earlier")
_latest = LATEST.subquery("latest")
_class_votes = class_states.CLASS_VOTE_ROWS
_states = ClassState.__table__
_CHECKS = (
    select(
        select(_by_submission.c.annotator_id).scalar_subquery().label("earlier_annotator"),
        select(_by_submission.c.class_wnid).scalar_subquery().label("earlier_class"),
        _NTH_LATEST_TIME.scalar_subquery().label("oldest_in_window"),
        *SETTING_COLUMNS,
        class_states.OTHERS_VOTED,
        select(func.max(_votes.c.id)).scalar_subquery().label("last_vote"),
        select(_states.c.vote_rows)
        .where(_states.c.class_wnid == bindparam("class_wnid"))
        .scalar_subquery()
        .label("state_rows"),
        *_latest.c,
        *_class_votes.c,
    )
    .select_from(
        select(literal(1).label("one"))
        .subquery("one")
        .outerjoin(_latest, true())
        .outerjoin(_class_votes, true())
    )
    .order_by(_class_votes.c.voted_at, _class_votes.c.voted_id)
)
# The write: the class's new state, if its row is still the version read, and the vote.
# On PostgreSQL one statement, the vote inserted only where the state was written
# (nothing at all otherwise), committed by itself (the session reads outside a
# transaction); SQLite, without writes in WITH, runs the two in one transaction.
_VOTE_FIELDS = [
    "annotator_id",
    "class_wnid",
    "synset_wnid",
    "comment",
    "submission_id",
    "suggestion_wnid",
    "created_at",
]
_written_state = (
    class_states.upsert(postgresql, where=class_states.UNCHANGED)
    .returning(_states.c.class_wnid)
    .cte("state")
)
_WRITE_POSTGRES = (
    insert(_votes)
    .from_select(
        _VOTE_FIELDS,
        select(*(bindparam(name, type_=_votes.c[name].type) for name in _VOTE_FIELDS)).select_from(
            _written_state
        ),
    )
    .returning(*_votes.c)
)
_WRITE_STATE_SQLITE = class_states.upsert(sqlite, where=class_states.UNCHANGED)


def _hold_state(dialect):
    """The class's state row locked (inserted empty where there is none, which the
    transaction then rewrites), for a vote to read and write while no other can."""
    statement = dialect.insert(_states).values(
        class_wnid=bindparam("wnid"),
        votes=0,
        confidence=0.0,
        closed=False,
        updated_at=bindparam("now"),
        vote_rows=0,
    )
    return statement.on_conflict_do_update(
        index_elements=[_states.c.class_wnid], set_={"vote_rows": _states.c.vote_rows}
    )


_HOLD_STATE = {dialect.dialect.name: _hold_state(dialect) for dialect in (postgresql, sqlite)}


class VoteError(SurveyError, ValueError):
    """A vote that cannot be stored (HTTP 400); nothing was written."""


class TooManyVotes(VoteError):
    """The annotator's recent votes reached VOTE_RATE_LIMIT (HTTP 429)."""


def clean_text(text: str | None, what: str = "comment") -> str | None:
    """A comment or note as stored (`stored_text.clean_text`, at most COMMENT_MAX
    characters): the one check for the vote path, the decision form and a restore."""
    return stored_text.clean_text(text, what, COMMENT_MAX)


def clean_comment(comment: str | None) -> str | None:
    """The comment as stored (see `clean_text`)."""
    try:
        return clean_text(comment)
    except ValueError as exc:
        raise VoteError(str(exc)) from None


def latest_vote(user_id: int, class_wnid: str) -> Row | None:
    """The row of the annotator's vote that counts for the class."""
    return execute(LATEST, user_id=user_id, class_wnid=class_wnid).first()


class LatestVotes(Sequence[Vote]):
    """The annotator's vote that counts for each class, newest first, read a slice at a
    time: the home page shows 50 of them, and loading every one took 0.7 s for an
    annotator of ImageNet-21k's classes."""

    def __init__(self, user_id: int) -> None:
        # Their votes walked newest first (ix_votes_annotator_id), each kept unless a
        # later one on its class supersedes it, and the count kept by the database
        # (AnnotatorTally): grouping all their votes by class read every one of them.
        # The latest is asked per vote as a correlated subquery (a probe of
        # ix_votes_annotator_class): PostgreSQL planned a NOT EXISTS as a join that read
        # all their votes again for each vote of the page.
        later = aliased(Vote)
        latest_here = (
            select(func.max(later.id))
            .where(later.annotator_id == Vote.annotator_id, later.class_wnid == Vote.class_wnid)
            .scalar_subquery()
        )
        self._ordered = (
            select(Vote)
            .where(Vote.annotator_id == user_id, Vote.id == latest_here)
            .order_by(Vote.id.desc())
        )
        self._count = select(
            func.coalesce(
                select(AnnotatorTally.classes)
                .where(AnnotatorTally.annotator_id == user_id)
                .scalar_subquery(),
                0,
            )
        )
        self._length: int | None = None

    def __len__(self) -> int:
        if self._length is None:
            self._length = db.session.scalar(self._count)
        return self._length

    def __getitem__(self, index):
        if not isinstance(index, slice):
            return self[index : index + 1 or None][0]
        start, stop, step = index.indices(len(self))
        rows = self._ordered.offset(start).limit(max(stop - start, 0))
        return list(db.session.scalars(rows))[::step]


def latest_votes(user_id: int) -> list[Vote]:
    """The annotator's vote that counts for each class, newest first, all of them."""
    return LatestVotes(user_id)[:]


def vote_history(user_id: int) -> list[Vote]:
    """Every vote the annotator cast, superseded ones included, oldest first."""
    return list(
        db.session.scalars(select(Vote).where(Vote.annotator_id == user_id).order_by(Vote.id))
    )


def record_vote(
    user: User | SessionUser,
    class_wnid: str,
    synset_wnid: str,
    comment: str | None = None,
    submission_id: str | None = None,
) -> tuple[Row, bool]:
    """Store a vote; returns (the row of the vote that counts, whether a row was added)."""
    require_class(class_wnid)
    if synset_wnid not in hierarchy_from_db().chain_wnids(class_wnid):
        raise VoteError(f"{synset_wnid!r} is not on the candidate chain of {class_wnid}")
    comment = clean_comment(comment)
    if submission_id is not None and not re.fullmatch(SUBMISSION_ID_RE, submission_id):
        raise VoteError(f"a submission_id has {SUBMISSION_ID_RULE}")
    limit = current_app.config["VOTE_RATE_LIMIT"]
    # Read, compute, then write only if no other vote on the class was written in
    # between: the class's rows are locked only while the write commits. Holding them
    # from the vote's insert to its commit, across the reads and the state's
    # computation, queued the other votes on the class (benchmarks/load_votes.py).
    read_without_transaction()
    outcome = _vote_once(user, class_wnid, synset_wnid, comment, submission_id, limit)
    if outcome is not None:
        return outcome
    # Another vote on the class came first: again, holding its state row from the
    # read on, so that this time none can.
    db.session.rollback()
    dialect = db.session.get_bind().dialect.name
    execute(_HOLD_STATE[dialect], wnid=class_wnid, now=utcnow())
    try:
        return _vote_once(user, class_wnid, synset_wnid, comment, submission_id, limit)
    finally:
        db.session.rollback()  # a vote that wrote nothing leaves no empty state row


def _vote_once(
    user: User | SessionUser,
    class_wnid: str,
    synset_wnid: str,
    comment: str | None,
    submission_id: str | None,
    limit: int,
) -> tuple[Row, bool] | None:
    """record_vote's answer, or None where another vote on the class was written
    between this one's read and its write (this one then wrote nothing)."""
    rows = execute(
        _CHECKS,
        user_id=user.id,
        class_wnid=class_wnid,
        submission_id=submission_id,
        skip=max(limit - 1, 0),
    ).all()
    checks = rows[0]
    settings = settings_from_row(checks)
    keep_for_request(settings)
    latest = checks if checks.id is not None else None
    if checks.earlier_annotator is not None:
        return _resent((checks.earlier_annotator, checks.earlier_class), latest, user, class_wnid)
    if latest is not None and (latest.synset_wnid, latest.comment) == (synset_wnid, comment):
        return latest, False
    _check_rate(limit, checks.oldest_in_window)
    vote = {
        "annotator_id": user.id,
        "class_wnid": class_wnid,
        "synset_wnid": synset_wnid,
        "comment": comment,
        "submission_id": submission_id,
        "suggestion_wnid": class_states.shown_suggestion(
            class_wnid, user.id, settings, checks.others_voted
        ),
        "created_at": utcnow(),
    }
    earlier = [row for row in rows if row.voted_id is not None]
    counted = class_states.votes_of(
        class_wnid,
        earlier,
        added=LoggedVote(
            user.username,
            class_wnid,
            synset_wnid,
            as_utc(vote["created_at"]),
            None,
            vote["suggestion_wnid"],
        ),
    )
    # The skills at the epoch of the vote's id, which is above the newest read.
    team = class_states.skills((checks.last_vote or 0) + 1)
    state = class_states.state_values(class_wnid, counted, len(earlier) + 1, settings.closing, team)
    seen = -1 if checks.state_rows is None else checks.state_rows  # -1: no row, none matches
    try:
        added = _write(vote, state, seen)
        if added is None:
            db.session.rollback()
            return None
        db.session.commit()
    except IntegrityError:  # the same form, sent twice at once: the other request won
        db.session.rollback()
        earlier_vote = _vote_with_submission(submission_id) if submission_id else None
        if earlier_vote is None:
            raise
        return _resent(
            (earlier_vote.annotator_id, earlier_vote.class_wnid),
            latest_vote(user.id, class_wnid),
            user,
            class_wnid,
        )
    return added, True


def _write(vote: dict, state: dict, seen_rows: int) -> Row | None:
    """The vote's row and the class's state written, if the state's row is still at
    `seen_rows`; else nothing, and None."""
    if db.session.get_bind().dialect.name == "postgresql":
        return execute(_WRITE_POSTGRES, **vote, **state, seen_rows=seen_rows).first()
    if not execute(_WRITE_STATE_SQLITE, **state, seen_rows=seen_rows).rowcount:
        return None
    return execute(_ADD, **vote).one()


def _check_rate(limit: int, oldest: datetime | None) -> None:
    """At most VOTE_RATE_LIMIT new votes per VOTE_RATE_WINDOW_SECONDS per
    annotator (0: no limit): a person votes far slower, a script filling the
    database does not. `oldest`: the time of the vote that many votes back (one
    indexed lookup, in _CHECKS). Votes sent at the same moment may pass it
    together; the limit bounds a sustained rate, which is what fills a disk."""
    if not limit:
        return
    window = current_app.config["VOTE_RATE_WINDOW_SECONDS"]
    if oldest is not None and oldest > utcnow() - timedelta(seconds=window):
        raise TooManyVotes(
            f"too many votes: at most {limit} in {window} seconds; wait a moment and vote again"
        )


def _vote_with_submission(submission_id: str) -> Row | None:
    return execute(_BY_SUBMISSION, submission_id=submission_id).first()


def _resent(
    earlier: tuple[int, str], latest: Row | None, user: User | SessionUser, class_wnid: str
) -> tuple[Row, bool]:
    """The answer to a form sent again: `earlier`, the (annotator, class) of the vote
    stored with its submission_id; `latest`, the annotator's vote that counts now."""
    if earlier != (user.id, class_wnid):
        raise VoteError("this submission_id belongs to another vote")
    return latest, False


def record_skip(user: User | SessionUser, class_wnid: str) -> None:
    require_class(class_wnid)
    db.session.add(Skip(annotator_id=user.id, class_wnid=class_wnid))
    db.session.commit()
