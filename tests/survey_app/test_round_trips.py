"""How many times the annotate page and the vote wait on the database, on SQLite
and PostgreSQL: a count, not a time, so that a query added to either path fails
here rather than only in the load test's figures (benchmarks/load_votes.py).

Counted with SQLAlchemy's events on the app's engine: every statement sent, and on
PostgreSQL every transaction opened on a connection outside autocommit (psycopg
sends its BEGIN, and later the COMMIT or ROLLBACK, as round trips of their own;
SQLite's driver begins none for reads, in process)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest
from sqlalchemy import event, text

from benchmarks import load_votes
from survey_app.extensions import db

from .conftest import add_user, log_in, make_app, seeded

# The figures since the round trips were cut (README, "Load test"): the page reads the
# account, then everything else in one statement, outside a transaction (were 6
# statements in one); the vote reads the account, locks the class's tally, reads its
# checks with the class's votes and where the vote leads in one statement, and writes
# the vote, the class's state and the hold on where it leads (PostgreSQL: one
# statement; SQLite, without writes in WITH: three, none a round trip), in one
# transaction (were 14 statements in two transactions, then 6 in one and a read after).
PAGE_STATEMENTS = 2
PAGE_TRANSACTIONS = 0
VOTE_STATEMENTS = {"sqlite": 6, "postgresql": 4}
VOTE_TRANSACTIONS = 1


@dataclass
class Calls:
    statements: list[str] = field(default_factory=list)
    transactions: int = 0


@contextmanager
def counted(app) -> Iterator[Calls]:
    calls = Calls()

    def statement(_conn, _cursor, sql, _params, _context, _many) -> None:
        calls.statements.append(sql)

    def begin(conn) -> None:
        if conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
            calls.transactions += 1

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine, "begin", begin)
    try:
        yield calls
    finally:
        event.remove(engine, "before_cursor_execute", statement)
        event.remove(engine, "begin", begin)


@pytest.fixture
def survey_app(tmp_path, small_hierarchy, database_url):
    """The app with the settings of a real survey: the first vote's suggestion hidden
    (one more question per page and vote) and the vote rate limit on."""
    app = seeded(make_app(tmp_path, database_url, HIDE_FIRST_SUGGESTION=True), small_hierarchy)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def vote_on(client, path: str):
    """Open the annotate page at `path` (or where /next leads) and vote for its most
    specific candidate: the vote's answer, which leads to the next class."""
    while not path.startswith("/annotate/"):
        path = client.get(path).headers["Location"]
    page = client.get(path)
    assert page.status_code == 200
    reply = client.post(path, data=load_votes.vote_form(page.text, lambda wnids: wnids[-1]))
    assert reply.status_code == 303
    return reply


def test_page_and_vote_round_trips(survey_app):
    """A page and a vote after the first (which builds the process's kept values): on
    a class someone else has voted on, then on one nobody has (its first state row)."""
    annotator = log_in(survey_app.test_client(), add_user(survey_app, "ann"))
    other = log_in(survey_app.test_client(), add_user(survey_app, "other"))
    postgres = survey_app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql")
    reply = vote_on(annotator, "/next")  # the first class; its answer leads to the second
    vote_on(other, vote_on(other, "/next").headers["Location"])  # the first, then the second
    for _ in range(2):
        path = reply.headers["Location"]
        with counted(survey_app) as page_calls:
            page = annotator.get(path)
        assert page.status_code == 200
        form = load_votes.vote_form(page.text, lambda wnids: wnids[-1])
        with counted(survey_app) as vote_calls:
            reply = annotator.post(path, data=form)
        assert reply.status_code == 303
        assert len(page_calls.statements) <= PAGE_STATEMENTS, page_calls.statements
        assert not postgres or page_calls.transactions <= PAGE_TRANSACTIONS
        dialect = "postgresql" if postgres else "sqlite"
        assert len(vote_calls.statements) <= VOTE_STATEMENTS[dialect], vote_calls.statements
        assert not postgres or vote_calls.transactions <= VOTE_TRANSACTIONS


def _asks_where_enter_leads(app) -> bool:
    """Whether the annotate page's statements asked the queue for the class after this
    one (work_queue.AROUND_COLUMNS' "following"), which ranks every open class."""
    client = log_in(app.test_client(), add_user(app, "ann"))
    path = client.get("/next").headers["Location"]
    with counted(app) as calls:
        assert client.get(path).status_code == 200
    return any(" AS following" in sql for sql in calls.statements)


def test_without_pictures_the_page_does_not_rank_the_queue_for_prefetching(survey_app):
    """The class after this one is asked only to prefetch its pictures: with no image
    source there are none, and the page's statement leaves the question out."""
    assert not _asks_where_enter_leads(survey_app)


def test_with_pictures_the_page_asks_where_enter_leads(tmp_path, small_hierarchy):
    from .conftest import make_image_folder

    wnids = [c.wnid for c in small_hierarchy.classes]
    pictures = make_image_folder(tmp_path / "imagenet", wnids, per_class=1, size=(40, 30))
    app = seeded(make_app(tmp_path, IMAGE_SOURCE=str(pictures)), small_hierarchy)
    assert _asks_where_enter_leads(app)


@pytest.mark.postgres
def test_postgresql_plans_the_apps_statements_once_per_connection(
    tmp_path, small_hierarchy, postgres_url
):
    """The setting holds on a connection the pool has rolled back and handed out again:
    set in the connection's first transaction and not committed, it was undone."""
    app = seeded(make_app(tmp_path, postgres_url), small_hierarchy)
    try:
        for _ in range(2):
            with app.app_context():
                assert db.session.scalar(text("SHOW plan_cache_mode")) == "force_generic_plan"
                db.session.rollback()
    finally:
        with app.app_context():
            db.engine.dispose()


@pytest.mark.postgres
def test_postgresql_driver_keeps_the_parsing_of_every_statement_of_the_page_and_vote(
    tmp_path, small_hierarchy, postgres_url, monkeypatch
):
    """psycopg parses a statement's placeholders anew at each execution where it is too
    long or has too many parameters to keep: the page's read where it prefetches and
    the vote's checks were both, on every request (0 of them may be)."""
    from psycopg import _queries

    from .conftest import make_image_folder

    parsed_anew: list[bytes] = []
    parse = _queries._query2pg_nocache

    def watched(query, encoding):
        parsed_anew.append(query)
        return parse(query, encoding)

    # Only the path that keeps nothing calls it by this name; the kept conversion
    # calls the function it wrapped.
    monkeypatch.setattr(_queries, "_query2pg_nocache", watched)
    wnids = [c.wnid for c in small_hierarchy.classes]
    pictures = make_image_folder(tmp_path / "imagenet", wnids, per_class=1, size=(40, 30))
    app = seeded(make_app(tmp_path, postgres_url, IMAGE_SOURCE=str(pictures)), small_hierarchy)
    try:
        annotator = log_in(app.test_client(), add_user(app, "ann"))
        with counted(app) as calls:
            reply = vote_on(annotator, "/next")
            vote_on(annotator, reply.headers["Location"])
        assert any(" AS following" in sql for sql in calls.statements)  # the longest asked
        assert [len(query) for query in parsed_anew] == []
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
