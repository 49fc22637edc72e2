"""The seeded hierarchy kept in the store's folder (`survey_app.store_files`) as a
pickle, so that a fresh process loads it instead of reading its rows.

At ImageNet-21k's size reading the synsets, edges and 265,000 chain entries took 0.9 s
CPU, loading the pickle 0.16 s: each gunicorn worker and `flask export-cil` paid the
reading before its first page or export. The key is a digest of what the hierarchy is
read from, so nothing stale is loaded: the version the seeding recorded (with the
structure it names), the word facts' row (added to a database seeded before them), and
the source of the code that reads and holds it. Kept only where reading took at least
KEEP_AFTER_SECONDS; a file that cannot be read is passed over and read again.

Beside it, `keep_warm` keeps what the aggregations derived from the hierarchy
(`Hierarchy.derived`: the chosen labels' places, the conflict search's answers, the
labels' names), which a fresh process takes (`take_warm`) before the first aggregation it
computes: that one then redoes only what the votes since changed, as one after a vote does
(a fresh process's first took 2 s of CPU more at 21,843 classes). Each of those checks
that its inputs are equal before it answers, so one kept at an older position of the
logs is as good as any; the file's key adds the aggregating code's digest. A kept
aggregation carries the same (`derived_to_keep`), which a process that loads it takes
instead (`take_derived`).
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import Connection

from clustering import dbread, hierarchy
from clustering.aggregate import LAST_FIT
from clustering.hierarchy import Hierarchy
from survey_app.caches import kept
from survey_app.models import Meta
from survey_app.store_files import code_digest, pickled, read, store_folder, write

FORMAT = "cil-hierarchy-snapshot-1"
FILES_KEPT = 2  # of each kind: the hierarchy of one database, and one behind after an upgrade
_WARM = "warm_file"  # Hierarchy.derived's entry: the name of the file `keep_warm` writes
_TAKEN = "warm_file_taken"  # ... and whether `take_warm` read it
# Hierarchy.derived's entries `keep_warm` leaves out.
_REMADE = {"log_priors", LAST_FIT, _TAKEN}
# A hierarchy read quicker than this is not kept: a file is not worth it (a test's
# hierarchy of a few classes), while ImageNet-21k's took 0.9 s of CPU.
KEEP_AFTER_SECONDS = 0.25


def kept_hierarchy(connection: Connection) -> Hierarchy:
    """The hierarchy seeded in the database, loaded from the store where a process kept
    it, else read (`clustering.dbread.read_hierarchy`) and, where that was slow, kept."""
    key = _key(connection) if store_folder() is not None else None
    if key is None:
        return dbread.read_hierarchy(connection)
    name = f"{key}.hierarchy"
    loaded = read(name)
    if not isinstance(loaded, Hierarchy):
        started = time.process_time()
        loaded = dbread.read_hierarchy(connection)
        if time.process_time() - started >= KEEP_AFTER_SECONDS:
            # Pickled before anything asks it a question: its caches are still empty.
            write(name, pickled(loaded), FILES_KEPT)
    loaded.derived[_WARM] = _warm_name(key)
    return loaded


def take_warm(hierarchy: Hierarchy) -> None:
    """Take what `keep_warm` kept for `hierarchy` into it, once, before the process's
    first aggregation computed rather than loaded (`survey_app.aggregation`): a fresh
    process that loads a kept aggregation takes what was kept with it instead
    (`take_derived`), which shares its objects (the file took 0.3 s to load at 21,843
    classes, and 113 MB beside a loaded aggregation's 118)."""
    name = hierarchy.derived.get(_WARM)
    if name is None or hierarchy.derived.get(_TAKEN):
        return
    found = read(name)
    take_derived(hierarchy, found if isinstance(found, dict) else {})


def take_derived(hierarchy: Hierarchy, derived: dict) -> None:
    """Take `derived` (`derived_to_keep`'s, from another process) into `hierarchy`
    where it has none of its own, and leave the warm file unread from now on."""
    hierarchy.derived[_TAKEN] = True
    for entry, value in derived.items():
        hierarchy.derived.setdefault(entry, value)


def derived_to_keep(hierarchy: Hierarchy) -> dict:
    """What the aggregations derived from `hierarchy` that a fresh process takes: copies
    of the dicts that later aggregations add to (the pickler writes as it goes, and
    another thread may aggregate meanwhile); the rest is never changed. Not the log
    priors: they hold a copy of every prior (6 of 16 MB), quicker made again."""
    return {
        key: dict(value) if isinstance(value, dict) else value
        for key, value in list(hierarchy.derived.items())
        if key not in _REMADE
    }


def keep_warm(hierarchy: Hierarchy) -> None:
    """Keep what the aggregations derived from `hierarchy` for fresh processes (see the
    module's docstring); where it was not read through `kept_hierarchy`, nothing."""
    name = hierarchy.derived.get(_WARM)
    if name is None:
        return
    write(name, pickled(derived_to_keep(hierarchy)), FILES_KEPT)


def _warm_name(key: str) -> str:
    return (
        hashlib.sha256(f"{key}\n{kept('aggregation_code', None, code_digest)}".encode()).hexdigest()
        + ".warm"
    )


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
