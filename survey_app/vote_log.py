"""Every vote in the database, as the aggregation and the skills' recomputation read it:
the log this process read before is kept, and only the rows added since are read
(`clustering.dbread.read_vote_log`). At ImageNet-21k's size a full read of its 65,000
votes took a fifth of a second, once per aggregation and once per skills epoch."""

from __future__ import annotations

from clustering import dbread
from clustering.votes import Vote
from survey_app.caches import kept
from survey_app.extensions import db


def database_votes() -> list[Vote]:
    """Every vote in the database, oldest first."""
    known = kept("vote_log", None, lambda: [None])
    log = known[0] = dbread.read_vote_log(db.session.connection(), known[0])
    return list(log.votes)
