"""Votes, decisions and the hierarchy read straight from the survey database.

SQLAlchemy Core with lightweight `table()`/`column()` constructs, no Flask and
no models: the table and column names below are the contract with
`survey_app/models.py`, written once for both readers of the database, the
`python -m clustering aggregate --db URL` command and the app's `flask export-*`
commands. Only the `--db` path and the app import this module, so the
clustering job itself needs no SQLAlchemy.
"""

from __future__ import annotations

import hashlib
import json
import pickle
from collections.abc import Iterable, Iterator
from dataclasses import astuple, dataclass
from pathlib import Path
from sys import intern

from sqlalchemy import (
    DateTime,
    Integer,
    String,
    Text,
    column,
    create_engine,
    func,
    make_url,
    select,
    table,
)
from sqlalchemy.engine import Connection, Engine, Row
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from clustering.errors import ClusteringError
from clustering.gcpause import collector_paused
from clustering.hierarchy import ChainEntry, Hierarchy, ImageClass, LemmaSense, Synset
from clustering.votes import Decision, LabelDecision, Vote, as_utc

__all__ = [
    "VERSION_KEY",
    "WORD_FACTS_KEY",
    "DatabaseError",
    "VoteLog",
    "engine_for",
    "log_digest",
    "psycopg_url",
    "read_class_decisions",
    "read_decisions",
    "read_everything",
    "read_hierarchy",
    "read_label_decisions",
    "read_vote_log",
    "read_votes",
    "word_facts_from_json",
    "word_facts_to_json",
]

WORD_FACTS_KEY = "word_facts"  # the meta row holding the synsets' WordNet word facts
# The meta row holding the version of the hierarchy seeded (survey_app.seeding), which
# no later seeding changes.
VERSION_KEY = "hierarchy_version"
ROWS_AT_ONCE = 2000  # rows of a log that `log_digest` and `read_vote_log` fetch at once

_users = table("users", column("id", Integer), column("username", String))
_votes = table(
    "votes",
    column("id", Integer),
    column("annotator_id", Integer),
    column("class_wnid", String),
    column("synset_wnid", String),
    column("created_at", DateTime),
    column("comment", Text),
    column("suggestion_wnid", String),
)
_decisions = table(
    "decisions",
    column("id", Integer),
    column("admin_id", Integer),
    column("class_wnid", String),
    column("synset_wnid", String),
    column("created_at", DateTime),
    column("note", Text),
)
_label_decisions = table(
    "label_decisions",
    column("id", Integer),
    column("admin_id", Integer),
    column("general_wnid", String),
    column("keep_json", Text),
    column("merge_json", Text),
    column("name", String),
    column("created_at", DateTime),
    column("note", Text),
)
_synsets = table(
    "synsets",
    column("wnid", String),
    column("name", String),
    column("lemmas_json", Text),
    column("gloss", Text),
    column("depth", Integer),
)
_edges = table("synset_edges", column("child", String), column("parent", String))
_classes = table(
    "classes", column("wnid", String), column("index", Integer), column("n_paths", Integer)
)
_meta = table("meta", column("key", String), column("value", Text))
_chain = table(
    "chain_entries",
    column("class_wnid", String),
    column("position", Integer),
    column("synset_wnid", String),
    column("paths", String),
)


class DatabaseError(ClusteringError, RuntimeError):
    """The database cannot be read; the message says which URL and why."""


def _log_rows(connection: Connection, log, author, *columns) -> list:
    """(author's username, *columns) of every row of a log table (votes, class or label
    decisions), oldest first; ties in time by row id, the order they were written."""
    query = (
        select(_users.c.username, *columns)
        .join_from(log, _users, author == _users.c.id)
        .order_by(log.c.created_at, log.c.id)
    )
    return list(connection.execute(query))


def read_votes(connection: Connection) -> list[Vote]:
    """Every vote, oldest first, with the suggestion its annotator was shown
    (`read_vote_log`)."""
    return list(read_vote_log(connection).votes)


@dataclass(frozen=True)
class VoteLog:
    """The vote log as far as it was read: its votes in the log's order (by time, then
    row id) and where that order ends."""

    votes: tuple[Vote, ...]
    rows: int  # how many rows were read
    last_id: int  # the highest row id read (0: none)
    last: tuple | None  # (created_at, id) of the last row in the log's order


_VOTE_COUNT = select(func.count()).select_from(_votes)


def read_vote_log(connection: Connection, known: VoteLog | None = None) -> VoteLog:
    """The vote log, oldest first. Given `known`, an earlier read of the same log, only
    the rows numbered after it are read, where that gives the same list: the log is
    append-only, but PostgreSQL numbers a row when it is written and shows it when its
    transaction commits, so the rows are counted to find one that committed after a
    later-numbered one; and a new row older than the last one read (an import keeps the
    times votes were cast elsewhere) belongs inside the list. Either reads the whole log.

    The driver gives each row's texts as new strings: the usernames and wnids are
    interned, so that every vote of a class or by an annotator shares one (at 21,843
    classes the votes took 26 MB, 15 of them repeated strings), and the rows are made
    into votes ROWS_AT_ONCE at a time, not all fetched first. The cycle collector is
    paused meanwhile (`clustering.gcpause`: 65,000 rows at 21k classes)."""
    if known is not None:
        new = list(_vote_rows(connection, after_id=known.last_id))
        in_order = not new or known.last is None or (new[0][1], new[0][0]) > known.last
        if in_order and known.rows + len(new) == connection.execute(_VOTE_COUNT).scalar():
            return _vote_log(new, known)
    return _vote_log(_vote_rows(connection), None)


def _vote_rows(connection: Connection, after_id: int = 0) -> Iterator[Row]:
    """(id, created_at, username, class, label, comment, suggestion) of the votes numbered
    after `after_id`, in the log's order, fetched ROWS_AT_ONCE at a time."""
    v = _votes.c
    query = (
        select(v.id, v.created_at, _users.c.username, v.class_wnid, v.synset_wnid)
        .add_columns(v.comment, v.suggestion_wnid)
        .join_from(_votes, _users, v.annotator_id == _users.c.id)
        .order_by(v.created_at, v.id)
    )
    if after_id:
        query = query.where(v.id > after_id)
    for part in connection.execute(query).partitions(ROWS_AT_ONCE):
        yield from part


def _vote_log(rows: Iterable[Row], known: VoteLog | None) -> VoteLog:
    known = known or VoteLog((), 0, 0, None)
    votes = []
    last_id, last = known.last_id, known.last
    with collector_paused():
        for row_id, created_at, username, class_wnid, synset_wnid, text, shown in rows:
            votes.append(
                Vote(
                    intern(username),
                    intern(class_wnid),
                    intern(synset_wnid),
                    as_utc(created_at),
                    text or None,
                    shown and intern(shown),
                )
            )
            last_id, last = max(last_id, row_id), (created_at, row_id)
    if not votes:
        return known
    return VoteLog(known.votes + tuple(votes), known.rows + len(votes), last_id, last)


def read_class_decisions(connection: Connection) -> list[Decision]:
    """Every class decision, oldest first."""
    d = _decisions.c
    rows = _log_rows(
        connection, _decisions, d.admin_id, d.class_wnid, d.synset_wnid, d.created_at, d.note
    )
    return [
        Decision(username, class_wnid, synset_wnid, as_utc(created_at), note or None)
        for username, class_wnid, synset_wnid, created_at, note in rows
    ]


def read_label_decisions(connection: Connection) -> list[LabelDecision]:
    """Every label decision, oldest first."""
    d = _label_decisions.c
    rows = _log_rows(
        connection,
        _label_decisions,
        d.admin_id,
        d.general_wnid,
        d.keep_json,
        d.merge_json,
        d.created_at,
        d.name,
        d.note,
    )
    return [
        LabelDecision(
            username,
            general,
            tuple(json.loads(keep)),
            tuple(json.loads(merge)),
            as_utc(created_at),
            name or None,
            note or None,
        )
        for username, general, keep, merge, created_at, name, note in rows
    ]


def read_decisions(connection: Connection) -> list[Decision | LabelDecision]:
    """Every admin decision, class decisions then label decisions, each oldest first."""
    return [*read_class_decisions(connection), *read_label_decisions(connection)]


def log_digest(connection: Connection) -> str:
    """A digest of what an aggregation reads from the database: every row of the vote,
    class decision and label decision logs, and the usernames they are read with. An
    equal digest means an equal aggregation (with the same hierarchy, priors and
    settings). The rows are read untyped and pickled, not made into votes: a third of
    `read_votes`'s time at ImageNet-21k's size. They are digested ROWS_AT_ONCE at a time:
    a whole log as one list and one pickle took 38 MB at that size, while a worker holds
    the aggregation it is about to replace."""
    digest = hashlib.sha256()
    for log in (_users, _votes, _decisions, _label_decisions):
        untyped = table(log.name, *(column(c.name) for c in log.columns))
        digest.update(pickle.dumps(log.name))
        rows = connection.execute(select(untyped).order_by(untyped.c.id))
        for part in rows.partitions(ROWS_AT_ONCE):
            digest.update(pickle.dumps([tuple(row) for row in part]))
    return digest.hexdigest()


def read_hierarchy(connection: Connection) -> Hierarchy:
    """The seeded hierarchy, as `flask seed` wrote it, with the word facts kept under
    `WORD_FACTS_KEY` in the meta table (none where the database was seeded before them),
    and the version recorded under `VERSION_KEY`: digesting the structure again took
    0.7 s at ImageNet-21k's size, in a fresh process's first aggregation. The cycle
    collector is paused meanwhile (`clustering.gcpause`): a worker's first page reads
    tens of thousands of synsets and chains at ImageNet-21k's size."""
    with collector_paused():
        hierarchy = _read_hierarchy(connection)
    version = connection.execute(select(_meta.c.value).where(_meta.c.key == VERSION_KEY)).scalar()
    if version:
        hierarchy.remember_version(version)
    return hierarchy


def _read_hierarchy(connection: Connection) -> Hierarchy:
    stored = connection.execute(select(_meta.c.value).where(_meta.c.key == WORD_FACTS_KEY)).scalar()
    facts = json.loads(stored) if stored else {}
    synsets = {
        wnid: Synset(
            wnid,
            name,
            tuple(json.loads(lemmas)),
            gloss,
            depth,
            *word_facts_from_json(facts.get(wnid)),
        )
        for wnid, name, lemmas, gloss, depth in connection.execute(select(_synsets)).all()
    }
    parents: dict[str, list[str]] = {}
    for child, parent in connection.execute(select(_edges)).all():
        parents.setdefault(child, []).append(parent)
    # Fetched whole (row by row took a third of the time at ImageNet-21k's 265,000
    # entries), and an entry made once per (synset, paths): classes share their upper
    # chains, and the entries are frozen.
    entries: dict[tuple[str, str], ChainEntry] = {}
    chains: dict[str, list[ChainEntry]] = {}
    for class_wnid, _position, synset_wnid, paths in connection.execute(
        select(_chain).order_by(_chain.c.class_wnid, _chain.c.position)
    ).all():
        entry = entries.get((synset_wnid, paths))
        if entry is None:
            entry = ChainEntry(synset_wnid, tuple(int(p) for p in paths.split(",")))
            entries[synset_wnid, paths] = entry
        chains.setdefault(class_wnid, []).append(entry)
    classes = [
        ImageClass(index, wnid, tuple(chains.get(wnid, ())), n_paths)
        for wnid, index, n_paths in connection.execute(
            select(_classes).order_by(_classes.c.index)
        ).all()
    ]
    if not classes:
        raise DatabaseError("the database holds no classes; seed it first with `flask seed`")
    return Hierarchy(synsets, {k: tuple(sorted(v)) for k, v in parents.items()}, classes)


def word_facts_to_json(hierarchy: Hierarchy) -> str:
    """The synsets' word facts (lexicographer file, lemma senses) as one JSON text, the
    value the survey's seeding keeps under `WORD_FACTS_KEY`."""
    return json.dumps(
        {
            w: [s.lexname, [list(astuple(x)) for x in s.senses]]
            for w, s in hierarchy.synsets.items()
        },
        sort_keys=True,
    )


def word_facts_from_json(item: list | None) -> tuple[str, tuple[LemmaSense, ...]]:
    if not item:
        return "", ()
    lexname, senses = item
    return lexname, tuple(LemmaSense(*x) for x in senses)


def psycopg_url(url: str) -> str:
    """Plain `postgres://` (Heroku-style) and `postgresql://` URLs mean the psycopg 3
    driver, the one installed; the app's settings and `--db` read URLs through this."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def engine_for(url: str) -> Engine:
    """An engine for a SQLAlchemy URL (see `psycopg_url`)."""
    url = psycopg_url(url)
    try:
        parsed = make_url(url)
        # Connecting would create an empty SQLite file; a wrong path should say so instead.
        if (
            parsed.get_backend_name() == "sqlite"
            and parsed.database not in (None, "", ":memory:")
            and not Path(parsed.database).is_file()
        ):
            raise DatabaseError(
                f"{parsed.database} does not exist; give the SQLite file "
                "the app uses (instance/cil.sqlite3 by default)"
            )
        return create_engine(parsed)
    except (ArgumentError, NoSuchModuleError) as exc:
        raise DatabaseError(
            f"{url!r} is not a database URL this installation can use "
            f"({exc}); give one like sqlite:///instance/cil.sqlite3"
        ) from None


def read_everything(url: str) -> tuple[Hierarchy, list[Vote], list[Decision | LabelDecision]]:
    """The hierarchy, votes and decisions of the database at `url`, in one transaction."""
    engine = engine_for(url)
    try:
        with engine.connect() as connection:
            return read_hierarchy(connection), read_votes(connection), read_decisions(connection)
    except SQLAlchemyError as exc:
        reason = getattr(exc, "orig", None) or exc
        raise DatabaseError(
            f"cannot read the survey database at {url!r}: {reason}. Check the "
            "URL, that the server is running, and that it was set up with "
            "`flask setup`."
        ) from None
    finally:
        engine.dispose()
