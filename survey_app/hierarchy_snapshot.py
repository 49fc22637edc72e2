"""The seeded hierarchy kept in the store's folder (`survey_app.store_files`) as a
pickle, so that a fresh process loads it instead of reading its rows.

At ImageNet-21k's size reading the synsets, edges and 265,000 chain entries took 0.9 s
CPU, loading the pickle 0.16 s: each gunicorn worker and `flask export-cil` paid the
reading before its first page or export. The key is a digest of what the hierarchy is
read from, so nothing stale is loaded: the version the seeding recorded (with the
structure it names), the word facts' row (added to a database seeded before them), and
the source of the code that reads and holds it. Kept only where reading took at least
KEEP_AFTER_SECONDS; a file that cannot be read is passed over and read again.
"""

from __future__ import annotations

import hashlib
import pickle
import time
from collections.abc import Callable
from pathlib import Path

from flask import current_app
from sqlalchemy import select
from sqlalchemy.engine import Connection

from clustering import dbread, hierarchy
from clustering.gcpause import collector_paused
from clustering.hierarchy import Hierarchy
from survey_app.models import Meta
from survey_app.store_files import store_folder, write

FORMAT = "cil-hierarchy-snapshot-1"
FILES_KEPT = 2  # the hierarchy of one database, and one behind after an upgrade
# A hierarchy read quicker than this is not kept: a file is not worth it (a test's
# hierarchy of a few classes), while ImageNet-21k's took 0.9 s of CPU.
KEEP_AFTER_SECONDS = 0.25


def kept_hierarchy(connection: Connection, read: Callable[[], Hierarchy]) -> Hierarchy:
    """The hierarchy `read()` gives, loaded from the store where a process kept it."""
    folder = store_folder()
    key = _key(connection) if folder is not None else None
    if key is None:
        return read()
    path = folder / f"{key}.hierarchy"
    try:
        with collector_paused():
            loaded = pickle.loads(path.read_bytes())
        if isinstance(loaded, Hierarchy):
            return loaded
    except FileNotFoundError:
        pass
    except Exception:  # damaged: read again, not an error
        current_app.logger.exception("cannot load the kept hierarchy %s", path)
    started = time.process_time()
    read_back = read()
    if time.process_time() - started >= KEEP_AFTER_SECONDS:
        # Pickled before anything asks it a question: its caches are still empty.
        write(
            path.name,
            lambda file: pickle.dump(read_back, file, pickle.HIGHEST_PROTOCOL),
            FILES_KEPT,
        )
    return read_back


def _key(connection: Connection) -> str | None:
    """A digest of what the hierarchy is read from; None where no version was recorded."""
    rows = dict(
        connection.execute(
            select(Meta.key, Meta.value).where(
                Meta.key.in_((dbread.VERSION_KEY, dbread.WORD_FACTS_KEY))
            )
        ).all()
    )
    if not rows.get(dbread.VERSION_KEY):
        return None
    digest = hashlib.sha256(FORMAT.encode())
    for module in (hierarchy, dbread):
        digest.update(Path(module.__file__).read_bytes())
    digest.update(rows[dbread.VERSION_KEY].encode() + b"\0")
    digest.update((rows.get(dbread.WORD_FACTS_KEY) or "").encode())
    return digest.hexdigest()
