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

from flask import current_app, g
from sqlalchemy import Row, bindparam, func, insert, literal, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from clustering.votes import Vote as LoggedVote
from clustering.votes import as_utc
from survey_app import class_states, stored_text, work_queue
from survey_app.database import execute, hierarchy_from_db, require_class
from survey_app.errors import SurveyError
from survey_app.extensions import db
from survey_app.models import AnnotatorTally, ClassState, ClassTally, Skip, User, Vote, utcnow
from survey_app.survey_settings import SETTING_COLUMNS, read_with_queue_settings

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
# Everything the vote path asks before it writes, in one statement: a vote stored with
# this submission_id (its annotator and class), the rate limit's time, the survey's
# settings, whether others have voted on the class, the newest vote's id (for the
# skills' epoch, class_states.saw_vote), and, joined on (their columns by their names,
# NULL where there are none), the annotator's latest vote for the class and the class's
# vote rows, a result row each, oldest first. The vote form's request also asks the
# queue's next class besides this one (where the vote leads, `_CHECKS_LEADING`): it walks
# the open classes the annotator voted on, so the API and scripts do not ask it.
_by_submission = _BY_SUBMISSION.subquery("earlier")
_latest = LATEST.subquery("latest")
_class_votes = class_states.CLASS_VOTE_ROWS


def _checks(*extra):
    return (
        select(
            select(_by_submission.c.annotator_id).scalar_subquery().label("earlier_annotator"),
            select(_by_submission.c.class_wnid).scalar_subquery().label("earlier_class"),
            _NTH_LATEST_TIME.scalar_subquery().label("oldest_in_window"),
            *SETTING_COLUMNS,
            class_states.OTHERS_VOTED,
            select(func.max(_votes.c.id)).scalar_subquery().label("last_vote"),
            *extra,
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


_CHECKS = _checks()
_CHECKS_LEADING = _checks(next(c for c in work_queue.AROUND_COLUMNS if c.name == "following"))
# The class's tally row locked, before anything about the class is read: as the vote's
# insert does (its trigger, migration 0003), so that votes on the class, whoever writes
# them, follow one another. SQLite has no row locks: any write takes the database's.
_tallies = ClassTally.__table__
_LOCK_CLASS = {
    "postgresql": select(_tallies.c.class_wnid)
    .where(_tallies.c.class_wnid == bindparam("wnid"))
    .with_for_update(),
    "sqlite": update(_tallies)
    .where(_tallies.c.class_wnid == bindparam("wnid"))
    .values(annotators=_tallies.c.annotators),
}
# The vote and the class's new state. On PostgreSQL in one statement, the vote inserted
# from the state's row; SQLite, without writes in WITH, runs two.
_ADD = insert(_votes).returning(*_votes.c)
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
    class_states.UPSERT["postgresql"].returning(ClassState.__table__.c.class_wnid).cte("state")
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
# The vote form's: where the vote leads, held for the annotator (work_queue.HOLD).
_WRITE_POSTGRES_HOLDING = _WRITE_POSTGRES.add_cte(work_queue.HOLD["postgresql"].cte("hold"))
_FOLLOWING = "vote_leads_to"  # the key in flask.g


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
    *,
    leads: bool = False,
) -> tuple[Row, bool]:
    """Store a vote; returns (the row of the vote that counts, whether a row was added).
    Commits; called in a transaction (or none yet), not after read_without_transaction,
    under which the class's lock would end with the statement that takes it. With
    `leads` (the vote form), where the vote leads is read with its checks, for
    `class_after_vote`."""
    require_class(class_wnid)
    if synset_wnid not in hierarchy_from_db().chain_wnids(class_wnid):
        raise VoteError(f"{synset_wnid!r} is not on the candidate chain of {class_wnid}")
    comment = clean_comment(comment)
    if submission_id is not None and not re.fullmatch(SUBMISSION_ID_RE, submission_id):
        raise VoteError(f"a submission_id has {SUBMISSION_ID_RULE}")
    limit = current_app.config["VOTE_RATE_LIMIT"]
    dialect = db.session.get_bind().dialect.name
    # The class locked first, then read, computed and written, the vote and the state
    # in one statement where the database allows: a lock taken by the vote's insert
    # was held across two more statements (the class's votes, then its state).
    team = class_states.skills_for_a_vote()
    execute(_LOCK_CLASS[dialect], wnid=class_wnid)
    rows, settings = read_with_queue_settings(
        _CHECKS_LEADING if leads else _CHECKS,
        user_id=user.id,
        class_wnid=class_wnid,
        submission_id=submission_id,
        skip=max(limit - 1, 0),
        now=utcnow(),
    )
    checks = rows[0]
    class_states.saw_vote(checks.last_vote)
    if leads:
        setattr(g, _FOLLOWING, checks.following)
    try:
        unwritten = _answer_without_writing(checks, user, class_wnid, synset_wnid, comment, limit)
    except VoteError:
        db.session.rollback()  # the class's lock goes at once, not with the request
        raise
    if unwritten is not None:
        db.session.rollback()
        return unwritten
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
    counted = class_states.votes_of(
        class_wnid,
        [row for row in rows if row.voted_id is not None],
        added=LoggedVote(
            user.username,
            class_wnid,
            synset_wnid,
            as_utc(vote["created_at"]),
            None,
            vote["suggestion_wnid"],
        ),
    )
    state = class_states.state_values(class_wnid, counted, settings.closing, team)
    following = checks.following if leads else None
    until = work_queue.hold_until() if following is not None else None
    hold = {"user_id": user.id, "held_wnid": following, "held_until": until}
    try:
        if dialect == "postgresql":
            write = _WRITE_POSTGRES if until is None else _WRITE_POSTGRES_HOLDING
            added = execute(write, **vote, **state, **hold).one()
        else:
            execute(class_states.UPSERT[dialect], **state)
            added = execute(_ADD, **vote).one()
            if until is not None:
                execute(work_queue.HOLD[dialect], **hold)
        db.session.commit()
        class_states.saw_vote(added.id)
    except IntegrityError:  # the same form, sent twice at once: the other request won
        db.session.rollback()
        earlier = _vote_with_submission(submission_id) if submission_id else None
        if earlier is None:
            raise
        return _resent(
            (earlier.annotator_id, earlier.class_wnid),
            latest_vote(user.id, class_wnid),
            user,
            class_wnid,
        )
    return added, True


def _answer_without_writing(
    checks: Row,
    user: User | SessionUser,
    class_wnid: str,
    synset_wnid: str,
    comment: str | None,
    limit: int,
) -> tuple[Row, bool] | None:
    """record_vote's answer where the vote adds nothing (its form sent again, the same
    vote again), VoteError where it may not be stored, None where it is to be written."""
    latest = checks if checks.id is not None else None
    if checks.earlier_annotator is not None:
        return _resent((checks.earlier_annotator, checks.earlier_class), latest, user, class_wnid)
    if latest is not None and (latest.synset_wnid, latest.comment) == (synset_wnid, comment):
        return latest, False
    _check_rate(limit, checks.oldest_in_window)
    return None


def class_after_vote(user_id: int) -> str | None:
    """Where Enter leads after the annotator's vote in this request: the queue's next
    class, read with the vote's checks where they ran (besides the class voted on,
    which the annotator may no longer take), else asked now."""
    if _FOLLOWING in g:
        return g.get(_FOLLOWING)
    return work_queue.class_after_vote(user_id)


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
