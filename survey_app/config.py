"""Settings: defaults here, overridden by `CIL_*` environment variables
(`CIL_MAX_VOTES=6` sets `MAX_VOTES`), `DATABASE_URL`, and a test mapping."""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

from clustering.dbread import psycopg_url


def database_url(instance_path: str) -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        return f"sqlite:///{Path(instance_path) / 'cil.sqlite3'}"
    return psycopg_url(url)


def secret_key(instance_path: str) -> str:
    """$SECRET_KEY, else a random key kept in the instance folder so sessions
    survive a restart without a secret committed anywhere."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    path = Path(instance_path) / "secret_key"
    if not path.exists():
        # Written whole to a private temporary file (mkstemp creates it 0600)
        # and linked into place, which fails if another worker process was
        # first: the key is never readable by others, nor read half-written.
        descriptor, temporary = tempfile.mkstemp(dir=instance_path, prefix=".secret_key-")
        try:
            with os.fdopen(descriptor, "w") as stream:
                stream.write(secrets.token_hex(32))
            os.link(temporary, path)
        except FileExistsError:
            pass  # another process made the key; use that one
        finally:
            os.unlink(temporary)
    return path.read_text().strip()


def defaults(instance_path: str) -> dict:
    instance = Path(instance_path)
    return {
        "SQLALCHEMY_DATABASE_URI": database_url(instance_path),
        # No ping before each checkout: it cost a fifth of a request's time on
        # PostgreSQL. A connection lost with the server fails one request with
        # 503, and SQLAlchemy then replaces the whole pool; recycling keeps
        # connections younger than a server's or firewall's idle timeout.
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_recycle": 1800},
        # Where the hierarchy built from WordNet is kept between runs.
        "HIERARCHY_FILE": str(instance / "hierarchy.json"),
        # Class list for seeding: None is ImageNet-1k; else a wnid file or dataset folder.
        "CLASS_LIST": None,
        "COUNT_PROVIDER": "wordfreq",
        # The adaptive queue (`clustering.confidence`, survey_app.class_states): a class
        # closes with at least MIN_VOTES votes once its leading label's probability
        # reaches TARGET_CONFIDENCE, or at MAX_VOTES (then unsure: the admin's). The
        # admin page overrides these. MIN_VOTES = MAX_VOTES gives every class that many.
        # One vote at least: the figures in README's "The queue" (a third fewer votes
        # than fixed 3, more of them right); one vote closes a class only where it
        # agrees with the model and its annotator's reliability is measured.
        "MIN_VOTES": 1,
        "MAX_VOTES": 5,
        "TARGET_CONFIDENCE": 0.8,
        # The queue serves the first QUEUE_BATCH open classes (by index) before any
        # other, started ones first, so that votes overlap from the first hour.
        "QUEUE_BATCH": 20,
        # Seconds the class the queue leads an annotator to counts as their vote to
        # come (survey_app.models.QueueHold), so that annotators asking at once get
        # different classes of the batch; about the time a person takes over a class
        # and a little more. 0: no holds, as when a team of one needs none.
        "QUEUE_HOLD_SECONDS": 120,
        # An aggregation (the review pages' figures) that took longer than this to
        # compute is recomputed in a thread after a vote while the review pages show
        # the last one, marked as behind; exports always wait for the current one.
        "AGGREGATION_INLINE_SECONDS": 1.0,
        # Where aggregations that took at least AGGREGATION_STORE_SECONDS to compute are
        # kept for the next process (survey_app.aggregation_store); empty: nowhere.
        "AGGREGATION_STORE": str(instance / "aggregations"),
        "AGGREGATION_STORE_SECONDS": 1.0,
        # The first vote on a class is cast with the suggestion hidden, so that at
        # least one vote per class is independent of the model.
        "HIDE_FIRST_SUGGESTION": True,
        # Image source: None, a local ImageNet folder (ROOT/<wnid>/*.JPEG, or its
        # train/ or val/ subfolder), or a Downsampled ImageNet folder.
        "IMAGE_SOURCE": None,
        # A run's confusion.npy (`python -m trainer.features RUN_DIR`): the annotate page
        # then names the classes the model mistakes each class for. None: not shown.
        "MODEL_CONFUSION": None,
        "THUMBNAIL_DIR": str(instance / "thumbnails"),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        # Plain http on 127.0.0.1 by default; set CIL_SESSION_COOKIE_SECURE=true behind TLS.
        "SESSION_COOKIE_SECURE": False,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "WTF_CSRF_TIME_LIMIT": None,
        # No form or vote comes near this; larger request bodies get 413.
        "MAX_CONTENT_LENGTH": 1024 * 1024,
        # werkzeug's method names: "scrypt" (its default) or e.g. "pbkdf2:sha256:600000".
        "PASSWORD_HASH_METHOD": "scrypt",
        "PASSWORD_MIN_LENGTH": 8,
        "INVITATION_DAYS": 7,
        # Where annotators open the app, for `flask invite`'s links; None: where
        # `flask run` last served it (survey_app.startup.served_address).
        "BASE_URL": None,
        # Login rate limit: failures allowed per window, per (address, username)
        # and, much higher, per address alone.
        "LOGIN_MAX_FAILURES": 5,
        "LOGIN_MAX_FAILURES_PER_ADDRESS": 50,
        "LOGIN_FAILURE_WINDOW_SECONDS": 900,
        # Password hashes computed at once per process: each scrypt hash takes
        # about 32 MB, and a crowd of logins, real or not, would take them all.
        "PASSWORD_HASH_CONCURRENCY": 2,
        # New votes per annotator in a sliding window (0: no limit). A person
        # votes a class every few seconds; a script stored 194 votes/s.
        "VOTE_RATE_LIMIT": 60,
        "VOTE_RATE_WINDOW_SECONDS": 60,
        # Reverse proxies in front of the app that add X-Forwarded-For and
        # X-Forwarded-Proto: the client's address (which the login limits
        # count) is the one the outermost of them saw. 0: the app is reached
        # directly, and those headers are ignored, as any client can send them.
        "TRUSTED_PROXIES": 0,
        # How long the one-time link printed at start for the first admin stays valid.
        "SETUP_LINK_MAX_AGE_SECONDS": 86400,
        # The demo page (/demo/): a folder of run folders, each classified with the
        # model.onnx that `python -m trainer.export RUN --format onnx` wrote into it.
        # None: the page says it is unavailable. Admins only, unless DEMO_PUBLIC.
        "DEMO_RUNS": None,
        "DEMO_PUBLIC": False,
        # An upload's limits: bytes of the file, and pixels decoded (width x height; a
        # JPEG is decoded at 1/2 to 1/8 of its size when the model needs no more), which
        # a small file can hold millions of (a decompression bomb): 16 megapixels cost
        # 64 MB while decoded.
        "DEMO_MAX_BYTES": 8 * 1024 * 1024,
        "DEMO_MAX_PIXELS": 16_000_000,
        # Pictures decoded and classified at once per process; more uploads wait.
        "DEMO_DECODE_CONCURRENCY": 2,
        # Uploads per client address ("N per second|minute|hour", the `limits`
        # package's notation; empty: no limit), counted in DEMO_RATE_LIMIT_STORAGE
        # (memory:// counts per process; redis://HOST counts across them).
        "DEMO_RATE_LIMIT": "10 per minute",
        "DEMO_RATE_LIMIT_STORAGE": "memory://",
        # Where a picture is kept when the uploader ticks "keep"; nothing is otherwise.
        # No more than DEMO_KEEP_MAX_BYTES in all: past it, a picture is not kept.
        "DEMO_KEEP_DIR": str(instance / "demo_uploads"),
        "DEMO_KEEP_MAX_BYTES": 100 * 1024 * 1024,
    }
