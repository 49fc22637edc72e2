"""Aggregations (and the priors they read) kept on disk, so that a fresh process loads
one instead of computing it.

At ImageNet-21k's size an aggregation takes seconds, and its priors seconds more; each
new process (a gunicorn worker, `flask export-cil`) paid both before its first review
page or export, though another process had computed the same result. A result is kept
in the folder `AGGREGATION_STORE` (a file per key, the newest `FILES_KEPT` of them)
when computing it took at least `AGGREGATION_STORE_SECONDS`.

The key is a digest of everything the result is computed from, so that nothing
stale is ever loaded: the vote and decision logs' rows and the usernames
(`clustering.dbread.log_digest`), the settings, the hierarchy's version (classes included),
the search counts the priors come from, and the source of the code that aggregates
(an upgrade computes afresh). A file that cannot be read is passed over and computed
again. The files are pickles, written only by the app into its own folder.
"""

from __future__ import annotations

import gc
import hashlib
import io
import pickle
import time
from functools import partial

from clustering import dbread
from clustering.aggregate import Aggregation
from clustering.hierarchy import Hierarchy
from survey_app.caches import kept
from survey_app.counts import recent_word_counts
from survey_app.extensions import db
from survey_app.hierarchy_snapshot import derived_to_keep
from survey_app.store_files import (
    code_digest,
    enabled,
    pickled,
    read,
    worth_keeping,
    write,
)

FORMAT = "cil-aggregation-store-3"
FILES_KEPT = 8  # per folder: a result for each setting asked for, and a few behind


def _counts_digest(counts: dict[str, int | None]) -> str:
    return hashlib.sha256(repr(sorted(counts.items())).encode()).hexdigest()


def store_key(settings: tuple, hierarchy: Hierarchy) -> str:
    """The key of the aggregation for `settings` on the database as it is now."""
    return _key(
        hierarchy,
        recent_word_counts(),
        repr(settings),
        dbread.log_digest(db.session.connection()),
    )


def _key(hierarchy: Hierarchy, counts: dict[str, int | None], *parts: str) -> str:
    """A digest of `parts` and of what the priors come from: the code, the hierarchy's
    version and word facts, and the search counts."""
    common = (
        FORMAT,
        kept("aggregation_code", None, code_digest),
        hierarchy.version,  # the seeding's recorded one, as dbread reads it
        str(hierarchy.has_word_facts),  # the priors read them
        kept("counts_digest", counts, lambda: _counts_digest(counts)),
    )
    return hashlib.sha256("\n".join((*common, *parts)).encode()).hexdigest()


class _Pickler(pickle.Pickler):
    """Pickles an aggregation without its hierarchy, which the loader supplies. By
    `reducer_override`, which pickle asks only of objects other than the builtin
    containers and scalars: `persistent_id`, asked of each of 3.7 million objects at
    ImageNet-21k's size, was half the writing's time."""

    def __init__(self, file, hierarchy: Hierarchy) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.hierarchy = hierarchy

    def reducer_override(self, obj):
        return (_loaders_hierarchy, ()) if obj is self.hierarchy else NotImplemented


def _loaders_hierarchy() -> Hierarchy:
    """Where a kept aggregation refers to its hierarchy: `_Unpickler` puts the one it
    loads for in its place."""
    raise pickle.UnpicklingError("the hierarchy of a kept aggregation comes from its loader")


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, hierarchy: Hierarchy) -> None:
        super().__init__(file)
        self.hierarchy = hierarchy

    def find_class(self, module: str, name: str):
        if (module, name) == (__name__, _loaders_hierarchy.__name__):
            # Not a closure over the unpickler: the memo keeps what this returns, and a
            # cycle through the unpickler, whose memo holds every object loaded, kept a
            # whole loaded aggregation alive once frozen (`aggregation._compute_and_keep`
            # freezes it without a collection).
            return partial(_given, self.hierarchy)
        return super().find_class(module, name)


def _given(value):
    return value


def load(
    key: str, hierarchy: Hierarchy, collect_first: bool = False
) -> tuple[Aggregation, float, dict] | None:
    """(the aggregation kept under `key`, the seconds it took to compute, what the
    aggregations had derived from the hierarchy when it was kept), or None. With
    `collect_first`, the garbage there is now is collected once the file is read, before
    the loading."""

    def loads(data: bytes):
        if collect_first:
            gc.collect()
        return _Unpickler(io.BytesIO(data), hierarchy).load()

    loaded = read(f"{key}.pickle", loads)
    if not isinstance(loaded, tuple) or len(loaded) != 3:
        return None
    result, seconds, derived = loaded
    if not isinstance(result, Aggregation) or result.hierarchy is not hierarchy:
        return None
    return result, seconds, derived if isinstance(derived, dict) else {}


def save(key: str, result: Aggregation, seconds: float) -> None:
    """Keep `result` under `key`, with what the aggregations derived from its hierarchy
    (`hierarchy_snapshot.derived_to_keep`: pickled with it, they share its objects, a
    fresh process's memory), forgetting all but the newest FILES_KEPT files; a folder
    that cannot be written only costs the saving."""
    derived = derived_to_keep(result.hierarchy)
    write(
        f"{key}.pickle",
        lambda file: _Pickler(file, result.hierarchy).dump((result, seconds, derived)),
        FILES_KEPT,
    )


PRIORS_KEPT = 2  # files of priors: the search counts rarely change


def kept_priors(hierarchy: Hierarchy, counts: dict[str, int | None], compute) -> dict:
    """The entry-level priors for the search counts `counts`: loaded where a process
    kept them for the same hierarchy, counts and code, else `compute()`d and, where that
    took at least AGGREGATION_STORE_SECONDS, kept. Every fresh process computed them
    (gunicorn's master before it forks, `flask export-cil`): 2 s at ImageNet-21k's size."""
    if not enabled():
        return compute()
    name = _key(hierarchy, counts, "priors") + ".priors"
    loaded = read(name)
    if isinstance(loaded, dict):
        return loaded
    started = time.perf_counter()
    priors = compute()
    if worth_keeping(time.perf_counter() - started):
        write(name, pickled(priors), PRIORS_KEPT)
    return priors
