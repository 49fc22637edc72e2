"""App fixtures in the flaskr style: `app`, `client`, `runner`, each on a fresh
SQLite file migrated to head and seeded from the small hierarchy (a copy of a
template database built once per session)."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from flask_migrate import upgrade
from sqlalchemy import make_url
from werkzeug.serving import make_server

from benchmarks import load_votes
from clustering.hierarchy import Hierarchy
from survey_app import create_app
from survey_app.accounts import create_user
from survey_app.counts import fill_search_counts
from survey_app.extensions import db
from survey_app.models import User
from survey_app.seeding import seed_hierarchy
from tests.conftest import POSTGRES_HOST

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PG_ADMIN_URL = f"postgresql://postgres@{POSTGRES_HOST}/postgres"
PG_TEST_URL = f"postgresql+psycopg://postgres@{POSTGRES_HOST}"  # + "/" + a database name


def make_app(tmp_path, database_url: str | None = None, **settings):
    config = {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url or f"sqlite:///{tmp_path / 'test.sqlite3'}",
        "HIERARCHY_FILE": str(tmp_path / "hierarchy.json"),
        "THUMBNAIL_DIR": str(tmp_path / "thumbnails"),
        # A fast hash keeps logins cheap; test_accounts checks the scrypt default.
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        # The suggestion on a class nobody has voted on yet, for the tests of how it is
        # shown; test_queue checks the default, which hides it there.
        "HIDE_FIRST_SUGGESTION": False,
        # Review pages wait for the current figures however slow a loaded machine is;
        # test_aggregation_lag tests the pages that do not.
        "AGGREGATION_INLINE_SECONDS": float("inf"),
        # Each test's own: a result kept by another test's database is never at hand.
        "AGGREGATION_STORE": str(tmp_path / "aggregations"),
    }
    config.update(settings)
    return create_app(config)


@pytest.fixture(scope="package")
def chromium():
    """Chromium, launched once for the browser tests of this folder."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield launched
        launched.close()


# The marks of a module of browser tests: `-m "not browser"` leaves them out,
# and without Chromium they are skipped, saying how to get it.
BROWSER_TESTS = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs /usr/bin/chromium (`apt-get install chromium`; `make test` installs it)",
    ),
]


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory) -> Path:
    """Where the browser tests write their screenshots: a temporary folder, so that the
    tests change no file of the tree; `make screenshots` sets CIL_SCREENSHOTS to
    docs/screenshots/ to refresh the README's pictures."""
    folder = os.environ.get("CIL_SCREENSHOTS")
    if not folder:
        return tmp_path_factory.mktemp("screenshots")
    Path(folder).mkdir(parents=True, exist_ok=True)
    return Path(folder).resolve()


@pytest.fixture
def browser(chromium):
    """The folder's Chromium for one test: its pages (a context each, so no
    cookie passes between tests) are closed after it."""
    yield chromium
    for context in chromium.contexts:
        context.close()


def browser_log_in(page, base: str, username: str) -> None:
    """Log `page` in at `base` by the login form, as a person would."""
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")


def axe_violations(page) -> list[str]:
    """What axe-core finds against WCAG 2.1 A and AA on `page`, one line a node."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(
        page,
        options={
            "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
            "resultTypes": ["violations"],
        },
    )
    return [
        f"{v['id']}: {node['target']} {node.get('failureSummary', '')}"
        for v in results.response["violations"]
        for node in v["nodes"]
    ]


# Werkzeug gives its logger a handler on the sys.stderr of the moment when it has
# none; pytest closes that stream after the test. With this one, records go on to
# the root logger (and caplog) alone.
logging.getLogger("werkzeug").addHandler(logging.NullHandler())


@contextmanager
def serving(app) -> Iterator[str]:
    """The app served by Werkzeug on a free port of 127.0.0.1, in a thread:
    its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


def pipe(source: socket.socket, sink: socket.socket) -> None:
    """Copy `source` to `sink` until either end closes, then shut both: one
    direction of a test's TCP forwarder."""
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for end in (source, sink):
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            end.close()


class TemplateDatabases:
    """Databases migrated to head, seeded from a hierarchy and filled with the
    offline counts once per session and hierarchy, then copied for each test:
    doing that for every test took half of the survey tests' time. A SQLite
    template is a file, copied over the test's file; a PostgreSQL one is a
    database the test's database is created from (CREATE DATABASE ... TEMPLATE)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        # id(hierarchy) -> (hierarchy, template); the hierarchy is held so its id stays its own
        self.sqlite: dict[int, tuple[Hierarchy, Path]] = {}
        self.postgres: dict[int, tuple[Hierarchy, str]] = {}

    def copy_into(self, app, hierarchy: Hierarchy) -> None:
        """Give `app`, which has not connected yet, a seeded database of its own."""
        url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
        if url.get_backend_name() == "sqlite":
            # copyfile keeps the target's owner-only mode (see database._create_private)
            shutil.copyfile(self._sqlite_template(hierarchy), url.database)
            return
        create_postgres_database(
            app.config["SQLALCHEMY_DATABASE_URI"], self._postgres_template(hierarchy)
        )

    def _sqlite_template(self, hierarchy: Hierarchy) -> Path:
        if id(hierarchy) not in self.sqlite:
            path = self.folder / f"template-{len(self.sqlite)}.sqlite3"
            _migrate_and_seed(make_app(self.folder, f"sqlite:///{path}"), hierarchy)
            self.sqlite[id(hierarchy)] = (hierarchy, path)
        return self.sqlite[id(hierarchy)][1]

    def _postgres_template(self, hierarchy: Hierarchy) -> str:
        if id(hierarchy) not in self.postgres:
            name = f"cil_template_{uuid.uuid4().hex[:12]}"
            url = f"{PG_TEST_URL}/{name}"
            create_postgres_database(url)
            self.postgres[id(hierarchy)] = (hierarchy, name)
            _migrate_and_seed(make_app(self.folder, url), hierarchy)
        return self.postgres[id(hierarchy)][1]

    def drop(self) -> None:
        if not self.postgres:
            return
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            for _hierarchy, name in self.postgres.values():
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _migrate_and_seed(app, hierarchy: Hierarchy) -> None:
    # Alembic's env.py sets logging up from alembic.ini, replacing the root
    # logger's handlers: the test that happens to build a template keeps its own.
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    with app.app_context():
        upgrade()
        root.handlers[:] = handlers
        root.setLevel(level)
        seed_hierarchy(hierarchy)
        fill_search_counts("wordfreq", progress=False)
        db.session.remove()
        db.engine.dispose()  # SQLite: the last connection closed folds the WAL into the file


_templates: TemplateDatabases | None = None  # set for the session by `template_databases`


@pytest.fixture(scope="session", autouse=True)
def template_databases(tmp_path_factory) -> Iterator[TemplateDatabases]:
    global _templates
    _templates = TemplateDatabases(tmp_path_factory.mktemp("templates"))
    yield _templates
    _templates.drop()
    _templates = None


def seeded(app, hierarchy: Hierarchy):
    """`app` on a database migrated to head, seeded from `hierarchy` and filled
    with the offline counts."""
    _templates.copy_into(app, hierarchy)
    return app


@pytest.fixture
def app(tmp_path, small_hierarchy):
    return seeded(make_app(tmp_path), small_hierarchy)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def create_postgres_database(url: str, template: str | None = None) -> None:
    """Create the PostgreSQL database `url` names (replacing one of that name):
    empty, or a copy of the database `template`."""
    name = make_url(url).database
    copy = f' TEMPLATE "{template}"' if template else ""
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"{copy}')


@pytest.fixture
def postgres_url():
    """The URL of a PostgreSQL database of the test's own, dropped afterwards. It
    is not created yet: `seeded` creates it as a template's copy, and
    `unmigrated_app` empty (creating it empty first cost each test a database)."""
    name = f"cil_test_{uuid.uuid4().hex[:12]}"
    yield f"{PG_TEST_URL}/{name}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request):
    """None (a SQLite file) or a PostgreSQL database (`postgres_url`: created
    by `seeded`), for the tests where the database matters."""
    return request.getfixturevalue("postgres_url") if request.param == "postgres" else None


@pytest.fixture
def either_app(tmp_path, small_hierarchy, database_url):
    """The `app` fixture on SQLite and on PostgreSQL."""
    app = seeded(make_app(tmp_path, database_url), small_hierarchy)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def unmigrated_app(tmp_path, database_url):
    """The app on a fresh, unmigrated SQLite file or PostgreSQL database, for the
    migration tests."""
    if database_url:
        create_postgres_database(database_url)
    app = make_app(tmp_path, database_url)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


# --- accounts: users, logged-in clients, CSRF tokens ---------------------------------------
PASSWORD = "correct horse battery"


def add_user(app, username: str, role: str = "annotator", password: str = PASSWORD) -> int:
    with app.app_context():
        user = create_user(username, password, role)
        db.session.commit()
        return user.id


def log_in(client, user_id: int):
    """Logged in without a password check, as Flask-Login keeps it in the session."""
    with client.application.app_context():
        session_id = db.session.get(User, user_id).get_id()
    with client.session_transaction() as session:
        session["_user_id"] = session_id
        session["_fresh"] = True
    return client


def csrf_token(client, path: str = "/login") -> str:
    """The session's CSRF token, read from a page as a browser would."""
    page = client.get(path).get_data(as_text=True)
    return load_votes.CSRF_RE.search(page).group(1)


def post_login(client, username: str, password: str = PASSWORD, **query):
    """The answer to the login form, sent with the session's CSRF token."""
    return client.post(
        "/login",
        query_string=query,
        data={"csrf_token": csrf_token(client), "username": username, "password": password},
    )


def account_form(client, path: str, username: str, password: str = PASSWORD, confirm=None):
    """The answer to an account form (an invitation's, the first admin's) at
    `path`: `confirm` repeats the password unless given."""
    return client.post(
        path,
        data={
            "csrf_token": csrf_token(client, path),
            "username": username,
            "password": password,
            "confirm": password if confirm is None else confirm,
        },
    )


def invite_on_admin_page(admin, role: str = "annotator") -> str:
    """The admin page after the logged-in admin asked it for an invitation link."""
    return admin.post(
        "/admin/invitations",
        data={"csrf_token": csrf_token(admin, "/admin/"), "invite-role": role},
        follow_redirects=True,
    ).text


@pytest.fixture
def annotator(app):
    """A client logged in as the annotator `ann`."""
    return log_in(app.test_client(), add_user(app, "ann"))


@pytest.fixture
def admin(app):
    """A client logged in as the admin `boss`."""
    return log_in(app.test_client(), add_user(app, "boss", role="admin"))


def make_image_folder(root, wnids, per_class: int = 3, size=(200, 150)):
    """An ImageFolder (`root/<wnid>/<k>.JPEG`) of coloured pictures, one hue per class."""
    from PIL import Image, ImageDraw

    for number, wnid in enumerate(wnids):
        folder = root / wnid
        folder.mkdir(parents=True)
        for k in range(per_class):
            hue = (number * 47 + k * 9) % 256
            image = Image.new("HSV", size, (hue, 160, 220)).convert("RGB")
            ImageDraw.Draw(image).text((10, 10), f"{wnid} #{k}", fill="black")
            image.save(folder / f"{wnid}_{k}.JPEG", quality=90)
    return root


def load_survey(
    tmp_path, hierarchy, database_url: str | None = None, annotators: int = 8
) -> tuple[load_votes.Survey, list[str]]:
    """A survey for the load tests to serve under gunicorn: a seeded database
    (a template's copy, not `flask setup` again) with `annotators` annotators,
    who log in with the tests' fast password hash."""
    app = seeded(make_app(tmp_path, database_url), hierarchy)
    names = [f"annotator{i:03d}" for i in range(annotators)]
    for name in names:
        add_user(app, name, password=load_votes.PASSWORD)
    with app.app_context():
        db.engine.dispose()
    survey = load_votes.Survey(
        app.config["SQLALCHEMY_DATABASE_URI"], tmp_path, Path(app.config["HIERARCHY_FILE"])
    )
    return survey, names
