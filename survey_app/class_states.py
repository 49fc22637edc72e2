"""Each class's state in the adaptive queue: what its counted votes make of it
(`clustering.confidence`), kept in `class_states` and rewritten by the vote path in
the vote's own transaction, so that the queue can skip closed classes in SQL.

The numbers are the export's: `survey_app.aggregation` aggregates with the
`confidence` weighting, the same priors (the entry-level model over each chain) and
the same skills model. The skills (each annotator's reliability and anchoring) are
computed from every counted vote in each process once per SKILLS_REFRESH_VOTES new
votes, or once per SKILLS_REFRESH_SHARE of the votes so far where that is more, so a
class's state may lag the export's skills by that many votes; an admin's change of
the queue's settings recomputes every class.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Row, bindparam, exists, func, select

from clustering.confidence import Belief, ClosingRule, TeamSkills, belief, team_skills
from clustering.strategies import entry_level_priors, prior_suggestions
from clustering.votes import Vote, as_utc, latest_votes
from survey_app import aggregation_store
from survey_app.caches import kept
from survey_app.counts import recent_word_counts
from survey_app.database import execute, hierarchy_from_db, upserts
from survey_app.extensions import db
from survey_app.models import ClassState, ClassTally, User, utcnow
from survey_app.models import Vote as VoteRow
from survey_app.survey_settings import SurveySettings, survey_settings
from survey_app.vote_log import database_votes

SKILLS_REFRESH_VOTES = 50
# Reading the whole vote log took 0.1 s at 13,000 votes: at a fixed 50, every 25th
# vote of a two-worker server paid for it, and the vote's p99 with it. Growing with
# the log, the cost per vote stays bounded and few enough votes pay for it.
SKILLS_REFRESH_SHARE = 0.1

_votes, _users = VoteRow.__table__, User.__table__
_states, _tallies = ClassState.__table__, ClassTally.__table__
# A class's vote rows, oldest first, with their annotators' names: what its state is
# computed from (`votes_of`). A subquery, for the vote path to read with its checks.
CLASS_VOTE_ROWS = (
    select(
        _users.c.username.label("voter"),
        _votes.c.synset_wnid.label("voted_synset"),
        _votes.c.created_at.label("voted_at"),
        _votes.c.suggestion_wnid.label("voted_suggestion"),
        _votes.c.id.label("voted_id"),
    )
    .join_from(_votes, _users, _votes.c.annotator_id == _users.c.id)
    .where(_votes.c.class_wnid == bindparam("class_wnid"))
    .subquery("class_votes")
)
_CLASS_VOTES = select(CLASS_VOTE_ROWS).order_by(
    CLASS_VOTE_ROWS.c.voted_at, CLASS_VOTE_ROWS.c.voted_id
)
# Whether anyone else has voted on the class: the first matching row answers it. A
# column, for the annotate page and the vote to ask with their other questions.
OTHERS_VOTED = (
    exists()
    .where(
        _votes.c.class_wnid == bindparam("class_wnid"),
        _votes.c.annotator_id != bindparam("user_id"),
    )
    .label("others_voted")
)
_OTHERS_VOTED = select(OTHERS_VOTED)
_LAST_VOTE = select(func.max(_votes.c.id))
_NEWEST_SEEN = "newest_vote_seen"  # kept: {"id": the newest vote id this process saw}
_LOCK_TALLIES = (
    select(_tallies.c.class_wnid)
    .where(_tallies.c.class_wnid.in_(select(_votes.c.class_wnid)))
    .order_by(_tallies.c.class_wnid)
    .with_for_update()
)
# The class's row written in one statement whether or not it exists yet (another vote
# may insert it first).
_STATE = {
    "class_wnid": bindparam("wnid"),
    "votes": bindparam("n_votes"),
    "leader": bindparam("leader"),
    "confidence": bindparam("confidence"),
    "closed": bindparam("closed"),
    "updated_at": bindparam("now"),
}
UPSERT = upserts(_states, _STATE, "class_wnid")


def priors() -> dict[str, dict[str, float]]:
    """class -> the entry-level model's probability of each candidate of its chain, kept
    while the search counts stay the same."""
    counts = recent_word_counts()
    return kept("priors", counts, lambda: _priors(hierarchy_from_db(), counts))


def _priors(hierarchy, counts) -> dict[str, dict[str, float]]:
    """Loaded where another process kept them on disk (`aggregation_store`)."""
    return aggregation_store.kept_priors(
        hierarchy, counts, lambda: entry_level_priors(hierarchy, counts)
    )


def suggestions() -> dict[str, str]:
    """class -> the model's suggestion, the candidate its prior favours (ties: the more
    specific, as `EntryLevelModel.suggest` breaks them)."""
    # Kept under the same counts as the priors, not under the priors' id(), which a
    # later dict may reuse once the old one is forgotten.
    return kept("prior_suggestions", recent_word_counts(), lambda: prior_suggestions(priors()))


def shared_priors(
    loaded: dict[str, dict[str, float]], loaded_suggestions: dict[str, str]
) -> tuple[dict[str, dict[str, float]], dict[str, str]]:
    """The process's priors and suggestions, in place of a loaded aggregation's copies
    (`survey_app.aggregation_store`, whose key holds the counts and the code they come
    from, so they are equal): one copy is kept, not two (33 MB at 21,843 classes). A
    process that has none yet keeps the loaded ones, and need not compute them."""
    counts = recent_word_counts()
    return (
        kept("priors", counts, lambda: loaded),
        kept("prior_suggestions", counts, lambda: loaded_suggestions),
    )


def skills(last_vote: int | None = None) -> TeamSkills:
    """Every annotator's reliability and anchoring from all counted votes, recomputed
    at each `skills_epoch`; `last_vote`: the id of the newest vote
    where the caller knows it (the vote path: the one it just added)."""
    if last_vote is None:
        last_vote = execute(_LAST_VOTE).scalar() or 0
        saw_vote(last_vote)
    return kept(
        "skills",
        skills_epoch(last_vote),
        lambda: team_skills(latest_votes(database_votes()), suggestions()),
    )


def skills_for_a_vote() -> TeamSkills:
    """The skills for a vote about to be written, asked before it locks its class: at the
    epoch after the newest vote this process has seen (`saw_vote`), so that the epoch's
    recomputation, which reads every vote (25-140 ms at 2,000-3,000 votes in the load
    test), holds no lock and no other vote waits for it."""
    seen = kept(_NEWEST_SEEN, None, dict)
    return skills(seen["id"] + 1 if "id" in seen else None)


def saw_vote(vote_id: int | None) -> None:
    """Note a vote id this process has read or written (the vote path)."""
    seen = kept(_NEWEST_SEEN, None, dict)
    seen["id"] = max(seen.get("id", 0), vote_id or 0)


def skills_epoch(last_vote: int) -> int:
    """The last point of the vote log, at or before `last_vote`, at which the skills are
    recomputed: every SKILLS_REFRESH_VOTES votes, or every SKILLS_REFRESH_SHARE of the
    log where that is more. The same points in every process."""
    epoch = 0
    while True:
        step = max(SKILLS_REFRESH_VOTES, int(epoch * SKILLS_REFRESH_SHARE))
        if epoch + step > last_vote:
            return epoch
        epoch += step


def shown_suggestion(
    class_wnid: str, user_id: int, settings: SurveySettings, others_voted: bool | None = None
) -> str | None:
    """The suggestion the annotate page shows this annotator for this class, or None: not
    in "hidden" mode, nor (with `hide_first`) before anyone else has voted on the class.
    The vote path asks the same, to record what the annotator saw. `others_voted`: the
    answer to OTHERS_VOTED where the caller read it already; else it is asked here."""
    if not settings.show_suggestion:
        return None
    if settings.hide_first and others_voted is None:
        others_voted = execute(_OTHERS_VOTED, class_wnid=class_wnid, user_id=user_id).scalar()
    if settings.hide_first and not others_voted:
        return None
    return suggestions().get(class_wnid)


def votes_of(class_wnid: str, rows: Iterable[Row], added: Vote | None = None) -> list[Vote]:
    """The class's counted votes (each annotator's latest) among its rows of
    CLASS_VOTE_ROWS, oldest first, and a vote `added` after them."""
    votes = [
        Vote(r.voter, class_wnid, r.voted_synset, as_utc(r.voted_at), None, r.voted_suggestion)
        for r in rows
    ]
    return latest_votes([*votes, added] if added else votes)


def class_belief(class_wnid: str, votes: Iterable[Vote], team: TeamSkills | None = None) -> Belief:
    chain = hierarchy_from_db().chain_wnids(class_wnid)
    return belief(chain, votes, team or skills(), priors().get(class_wnid))


def state_values(class_wnid: str, votes: list[Vote], rule: ClosingRule, team: TeamSkills) -> dict:
    """The parameters of the class's state row (upsert) from its counted `votes`."""
    believed = class_belief(class_wnid, votes, team)
    leader = believed.leader  # a property that compares every candidate: asked once
    leaders = [v.annotator for v in votes if v.label == leader]
    return {
        "wnid": class_wnid,
        "n_votes": len(votes),
        "leader": leader if votes else None,
        "confidence": believed.confidence if votes else 0.0,
        "closed": bool(votes)
        and rule.closed(
            len(votes), believed.confidence, len(leaders), all(map(team.known, leaders))
        ),
        "now": utcnow(),
    }


def refresh(class_wnid: str, rule: ClosingRule | None = None) -> None:
    """Rewrite the class's row from its counted votes, in the caller's transaction."""
    rows = execute(_CLASS_VOTES, class_wnid=class_wnid).all()
    values = state_values(
        class_wnid, votes_of(class_wnid, rows), rule or survey_settings().closing, skills()
    )
    execute(UPSERT[db.session.get_bind().dialect.name], **values)


def refresh_all(rule: ClosingRule | None = None) -> int:
    """Every voted class's row anew (after the queue's settings changed); returns how
    many. The caller commits."""
    rule = rule or survey_settings().closing
    classes = db.session.scalars(select(VoteRow.class_wnid).distinct()).all()
    if db.session.get_bind().dialect.name == "postgresql":
        # Their tallies' rows first, in one order: a vote locks its class's tally before
        # it reads the class (votes.record_vote), then its state and the count of closed
        # classes (migration 0007), so a vote waits here or this waits for the vote, and
        # neither for the other.
        execute(_LOCK_TALLIES)
    for class_wnid in classes:
        refresh(class_wnid, rule)
    return len(classes)


def state_of(class_wnid: str) -> ClassState | None:
    return db.session.get(ClassState, class_wnid)
