"""App fixtures in the flaskr style: `app`, `client`, `runner`, each on a fresh
SQLite file migrated to head and seeded from the small hierarchy."""

from __future__ import annotations

import re
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from flask_migrate import upgrade
from werkzeug.serving import make_server

from survey_app import create_app
from survey_app.accounts import create_user
from survey_app.counts import fill_search_counts
from survey_app.extensions import db
from survey_app.models import User
from survey_app.seeding import seed_hierarchy

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def make_app(tmp_path, database_url: str | None = None, **settings):
    config = {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url or f"sqlite:///{tmp_path / 'test.sqlite3'}",
        "HIERARCHY_FILE": str(tmp_path / "hierarchy.json"),
        "THUMBNAIL_DIR": str(tmp_path / "thumbnails"),
        # A fast hash keeps logins cheap; test_accounts checks the scrypt default.
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
    }
    config.update(settings)
    return create_app(config)


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


def seeded(app, hierarchy):
    with app.app_context():
        upgrade()
        seed_hierarchy(hierarchy)
        fill_search_counts("wordfreq", progress=False)
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


@pytest.fixture
def postgres_url():
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    name = f"cil_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL at 127.0.0.1:5432 is not reachable ({exc}); start it with "
                    "`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request):
    """None (a SQLite file) or a fresh PostgreSQL database, for the tests where
    the database matters."""
    return request.getfixturevalue("postgres_url") if request.param == "postgres" else None


@pytest.fixture
def either_app(tmp_path, small_hierarchy, database_url):
    """The `app` fixture on SQLite and on PostgreSQL."""
    app = seeded(make_app(tmp_path, database_url), small_hierarchy)
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
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)


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
