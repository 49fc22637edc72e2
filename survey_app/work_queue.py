"""Which class an annotator sees next, where "previous" leads, and progress.

"Next" is the class with the fewest votes (distinct annotators) among those
the annotator has not voted on, ties by class index; classes they skipped come
last. "Previous" walks back through the classes in the order of the
annotator's first vote on each, like a browser's back button, and submitting a
reopened class steps forward again along that same order.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from sqlalchemy import bindparam, distinct, exists, func, or_, select

from survey_app.database import execute, hierarchy_from_db
from survey_app.models import ClassTally, Skip, Vote

# Core statements built once and run on the session's connection: the ORM's
# per-statement cost was most of each request's time. The per-class counts come
# from `class_tallies` (see models.ClassTally), not from counting every vote.
_tallies, _votes, _skips = ClassTally.__table__, Vote.__table__, Skip.__table__
_user = bindparam("user_id")
_voted = exists().where(
    _votes.c.annotator_id == _user, _votes.c.class_wnid == _tallies.c.class_wnid
)
_skipped = exists().where(
    _skips.c.annotator_id == _user, _skips.c.class_wnid == _tallies.c.class_wnid
)
# Walks the (annotators, class_index) index, looking each class up among the
# annotator's votes, and stops at the first they have not voted on: no sort
# over all classes, nor a list of all their votes. Skipped classes come only
# when no other is left, as a second walk.
_fewest = (
    select(_tallies.c.class_wnid)
    .where(~_voted)
    .order_by(_tallies.c.annotators, _tallies.c.class_index)
    .limit(1)
)
_NEXT = (_fewest.where(~_skipped), _fewest.where(_skipped))
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
_previous = (
    _first_votes.where(or_(_first_vote_here.is_(None), _votes.c.id < _first_vote_here))
    .order_by(_votes.c.id.desc())
    .limit(1)
)
_following = _first_votes.where(_votes.c.id > _first_vote_here).order_by(_votes.c.id).limit(1)
# One round trip for the answer to every vote; COALESCE stops at the first
# subquery that finds a class.
_AFTER_VOTE = select(func.coalesce(*(s.scalar_subquery() for s in (_following, *_NEXT))))
# The class Enter will most likely lead to, looked up before the vote so the
# page can prefetch its pictures: the next in the voting order, else the queue's
# next class other than this one.
_NEXT_BESIDES = select(
    func.coalesce(
        _following.scalar_subquery(),
        *(
            s.where(_tallies.c.class_wnid != bindparam("class_wnid")).scalar_subquery()
            for s in _NEXT
        ),
    )
)
_annotators = select(_tallies.c.annotators).where(_tallies.c.class_wnid == bindparam("class_wnid"))
_AROUND_CLASS = select(
    _previous.scalar_subquery(), _annotators.scalar_subquery(), _NEXT_BESIDES.scalar_subquery()
)
_PROGRESS = select(
    select(func.count(distinct(_votes.c.class_wnid)))
    .where(_votes.c.annotator_id == _user)
    .scalar_subquery(),
    select(func.count())
    .select_from(_tallies)
    .where(_tallies.c.annotators >= bindparam("k"))
    .scalar_subquery(),
)


@dataclass(frozen=True)
class Progress:
    voted: int  # classes this annotator has voted on
    complete: int  # classes with at least `votes_per_class` annotators' votes
    total: int
    votes_per_class: int

    def as_dict(self) -> dict:
        return {
            "annotator": {"voted": self.voted, "total": self.total},
            "team": {
                "complete": self.complete,
                "total": self.total,
                "votes_per_class": self.votes_per_class,
            },
        }


def next_class(user_id: int) -> str | None:
    for statement in _NEXT:
        wnid = execute(statement, user_id=user_id).scalar()
        if wnid is not None:
            return wnid
    return None


def around_class(user_id: int, class_wnid: str) -> tuple[str | None, int, str | None]:
    """What the annotate page shows besides the class, in one round trip: the
    class voted on just before this one (for a class not voted on yet, the last
    one voted on), how many annotators have voted on this one, and where voting
    on it now would most likely lead (see _NEXT_BESIDES)."""
    previous, annotators, following = execute(
        _AROUND_CLASS, user_id=user_id, class_wnid=class_wnid
    ).one()
    return previous, annotators or 0, following


def class_after_vote(user_id: int, class_wnid: str) -> str | None:
    """Where Enter leads after a vote: the class after this one in the voting
    order (when it was reopened), else the queue's next class."""
    return execute(_AFTER_VOTE, user_id=user_id, class_wnid=class_wnid).scalar()


def progress(user_id: int) -> Progress:
    k = current_app.config["VOTES_PER_CLASS"]
    voted, complete = execute(_PROGRESS, user_id=user_id, k=k).one()
    return Progress(
        voted=voted, complete=complete, total=len(hierarchy_from_db().classes), votes_per_class=k
    )
