"""The database: the hierarchy (seeded once), the search-count cache, accounts,
and the append-only vote and decision logs."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime

from flask_login import UserMixin
from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from survey_app.extensions import db

WNID = String(16)


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Meta(db.Model):
    """Key-value facts about the database, e.g. the seeded hierarchy's version."""

    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Synset(db.Model):
    __tablename__ = "synsets"
    wnid: Mapped[str] = mapped_column(WNID, primary_key=True)
    name: Mapped[str] = mapped_column(String(128))  # nltk's name, e.g. dalmatian.n.02
    lemmas_json: Mapped[str] = mapped_column(Text)  # JSON list of lemma names
    gloss: Mapped[str] = mapped_column(Text)
    depth: Mapped[int]


class SynsetEdge(db.Model):
    """A hypernym edge: `parent` is a direct hypernym of `child`."""

    __tablename__ = "synset_edges"
    child: Mapped[str] = mapped_column(WNID, ForeignKey("synsets.wnid"), primary_key=True)
    parent: Mapped[str] = mapped_column(WNID, ForeignKey("synsets.wnid"), primary_key=True)


class ImageClass(db.Model):
    __tablename__ = "classes"
    wnid: Mapped[str] = mapped_column(WNID, ForeignKey("synsets.wnid"), primary_key=True)
    index: Mapped[int] = mapped_column(unique=True)
    n_paths: Mapped[int]
    synset: Mapped[Synset] = relationship()
    chain: Mapped[list[ChainEntry]] = relationship(order_by="ChainEntry.position")


class ClassTally(db.Model):
    """How many annotators have voted on a class and whether the queue has closed it,
    which order the queue. Kept by database triggers (migrations 0003 and 0007) in step
    with `classes`, `votes` and `class_states`, whoever writes them: the app only reads
    it."""

    __tablename__ = "class_tallies"
    class_wnid: Mapped[str] = mapped_column(WNID, ForeignKey("classes.wnid"), primary_key=True)
    class_index: Mapped[int]  # the class's index, the queue's tie-break, to order by one index
    annotators: Mapped[int]
    closed: Mapped[bool] = mapped_column(server_default=false())  # ClassState.closed

    # The queue walks the open classes by index (its batch), and beyond the batch by
    # annotators then index, stopping at the first it may give (survey_app.work_queue).
    __table_args__ = (
        Index("ix_class_tallies_open", "closed", "class_index", "class_wnid"),
        Index("ix_class_tallies_open_queue", "closed", "annotators", "class_index", "class_wnid"),
    )


class QueueOffer(db.Model):
    """A class the queue may give an account beyond its batch: open, voted on by
    someone, and neither voted on nor skipped by the account; with the class's
    annotators and index, the queue's order. Kept by triggers (migration 0009) on
    `users`, `votes`, `skips` and `class_tallies`: the app only reads it."""

    __tablename__ = "queue_offers"
    class_wnid: Mapped[str] = mapped_column(
        WNID, ForeignKey("classes.wnid", ondelete="CASCADE"), primary_key=True
    )
    annotator_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    annotators: Mapped[int]  # ClassTally.annotators
    class_index: Mapped[int]

    # The queue reads an account's rows in its order (survey_app.work_queue).
    __table_args__ = (
        Index("ix_queue_offers_queue", "annotator_id", "annotators", "class_index", "class_wnid"),
        {"sqlite_with_rowid": False},
    )


class QueueCount(db.Model):
    """The number of closed classes, in one row (id 1), kept by the triggers on
    `class_states` (migration 0007) so that progress does not count them."""

    __tablename__ = "queue_counts"
    id: Mapped[int] = mapped_column(primary_key=True)
    closed_classes: Mapped[int]


class AnnotatorTally(db.Model):
    """How many classes an annotator has voted on (their home page's count and
    progress), kept by triggers on `votes` (migration 0007); no row: none."""

    __tablename__ = "annotator_tallies"
    annotator_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    classes: Mapped[int]


class QueueHold(db.Model):
    """The class the queue last led an annotator to (the vote form's redirect, /next),
    counted by the queue as a vote to come until its holder votes on it or it lapses
    at `held_until` (QUEUE_HOLD_SECONDS): annotators asking at once are spread over the
    batch instead of all sent to its one class with the fewest votes (survey_app.
    work_queue). One row per annotator, replaced at each lead."""

    __tablename__ = "queue_holds"
    annotator_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    class_wnid: Mapped[str] = mapped_column(WNID, ForeignKey("classes.wnid"))
    held_until: Mapped[datetime]

    __table_args__ = (Index("ix_queue_holds_class", "class_wnid", "held_until"),)


class ClassState(db.Model):
    """What a class's counted votes make of it (`clustering.confidence`), rewritten by
    the vote path in the vote's transaction: the queue skips closed classes. A class
    without a row has no votes."""

    __tablename__ = "class_states"
    class_wnid: Mapped[str] = mapped_column(WNID, ForeignKey("classes.wnid"), primary_key=True)
    votes: Mapped[int]
    leader: Mapped[str | None] = mapped_column(WNID)
    confidence: Mapped[float]
    closed: Mapped[bool]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ChainEntry(db.Model):
    """One candidate label of a class: an ancestor (or the class itself), root first."""

    __tablename__ = "chain_entries"
    class_wnid: Mapped[str] = mapped_column(WNID, ForeignKey("classes.wnid"), primary_key=True)
    position: Mapped[int] = mapped_column(primary_key=True)
    synset_wnid: Mapped[str] = mapped_column(WNID, ForeignKey("synsets.wnid"), index=True)
    paths: Mapped[str] = mapped_column(String(64))  # comma-separated hypernym path numbers
    synset: Mapped[Synset] = relationship()

    __table_args__ = (UniqueConstraint("class_wnid", "synset_wnid"),)


class SearchCount(db.Model):
    """The cache of search counts: one row per (term, provider); a failed fetch
    keeps its error so a resumed run can retry it."""

    __tablename__ = "search_counts"
    id: Mapped[int] = mapped_column(primary_key=True)
    term: Mapped[str] = mapped_column(String(256))
    provider: Mapped[str] = mapped_column(String(32))
    count: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(Text)
    fetched_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("term", "provider"),)


class User(UserMixin, db.Model):
    """An annotator or an admin (admins may annotate too). Usernames are unique
    whatever their case (the index below)."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16), default="annotator")  # annotator | admin
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Part of every session's user id: raising it ends all the account's
    # sessions (logout, a password change, deactivation; see auth.py).
    session_generation: Mapped[int] = mapped_column(default=0, server_default="0")

    def get_id(self) -> str:
        """What Flask-Login keeps in the session: the id and the session generation."""
        return f"{self.id}.{self.session_generation}"

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active


Index("uq_users_username_lower", func.lower(User.username), unique=True)


class Invitation(db.Model):
    """A one-time link that creates an account; only the token's hash is stored."""

    __tablename__ = "invitations"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    role: Mapped[str] = mapped_column(String(16), default="annotator")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    used_at: Mapped[datetime | None]
    used_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class Vote(db.Model):
    """Append-only: a changed mind is a new row; the latest row per
    (annotator, class) counts. `submission_id` makes a re-sent form count once."""

    __tablename__ = "votes"
    id: Mapped[int] = mapped_column(primary_key=True)
    annotator_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    class_wnid: Mapped[str] = mapped_column(WNID, ForeignKey("classes.wnid"))
    synset_wnid: Mapped[str] = mapped_column(WNID, ForeignKey("synsets.wnid"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    comment: Mapped[str | None] = mapped_column(Text)
    submission_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    # The suggestion shown when the vote was cast (pre-selected or marked); None when
    # hidden or unknown. A vote that only accepted it is weak evidence (migration 0006).
    suggestion_wnid: Mapped[str | None] = mapped_column(WNID)

    annotator: Mapped[User] = relationship()

    __table_args__ = (
        Index("ix_votes_annotator_class", "annotator_id", "class_wnid", "id"),
        Index("ix_votes_class", "class_wnid"),
        # Covers "distinct annotators per class", which the queue and progress count.
        Index("ix_votes_class_annotator", "class_wnid", "annotator_id"),
        # An annotator's votes in order, along which "previous" and "next" walk.
        Index("ix_votes_annotator_id", "annotator_id", "id"),
    )


class Decision(db.Model):
    """An admin's settlement of a class; append-only, the latest counts and
    overrides the votes."""

    __tablename__ = "decisions"
    id: Mapped[int] = mapped_column(primary_key=True)
    admin_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    class_wnid: Mapped[str] = mapped_column(WNID, ForeignKey("classes.wnid"), index=True)
    synset_wnid: Mapped[str] = mapped_column(WNID, ForeignKey("synsets.wnid"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    note: Mapped[str | None] = mapped_column(Text)

    admin: Mapped[User] = relationship()


class LabelDecision(db.Model):
    """An admin's settlement of a label conflict in one act: the labels in `keep_json`
    stay beside the general label, those in `merge_json` go into it (JSON lists of
    synset wnids), and `name`, a lemma of the general label, names its rest.
    Append-only; for each label, the latest label decision naming it counts."""

    __tablename__ = "label_decisions"
    id: Mapped[int] = mapped_column(primary_key=True)
    admin_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    general_wnid: Mapped[str] = mapped_column(WNID, ForeignKey("synsets.wnid"))
    keep_json: Mapped[str] = mapped_column(Text)
    merge_json: Mapped[str] = mapped_column(Text)
    name: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    note: Mapped[str | None] = mapped_column(Text)

    admin: Mapped[User] = relationship()

    # The lists as Python values, also as constructor arguments: LabelDecision(keep=[...]).
    @property
    def keep(self) -> list[str]:
        return json.loads(self.keep_json)

    @keep.setter
    def keep(self, wnids: Iterable[str]) -> None:
        self.keep_json = json.dumps(list(wnids))

    @property
    def merge(self) -> list[str]:
        return json.loads(self.merge_json)

    @merge.setter
    def merge(self, wnids: Iterable[str]) -> None:
        self.merge_json = json.dumps(list(wnids))


class Skip(db.Model):
    """An annotator put a class aside; the queue offers it again only when
    nothing unskipped is left. Not a vote, so it never counts towards K."""

    __tablename__ = "skips"
    id: Mapped[int] = mapped_column(primary_key=True)
    annotator_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    class_wnid: Mapped[str] = mapped_column(WNID, ForeignKey("classes.wnid"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_skips_annotator_class", "annotator_id", "class_wnid"),)


class LoginFailure(db.Model):
    """A failed login, kept for the rate limiter's window; in the database so
    that every worker process sees the same count."""

    __tablename__ = "login_failures"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    remote_addr: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    __table_args__ = (Index("ix_login_failures_remote_addr", "remote_addr", "created_at"),)
