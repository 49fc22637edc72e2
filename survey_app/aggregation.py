"""The CIL the database's votes and decisions give now, for the review pages
and `flask export-cil` alike.

Rows are read by `clustering.dbread`, the same code that `python -m clustering
aggregate --db URL` runs, so both routes give the same CIL.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from flask import Flask, current_app, g
from sqlalchemy import func, select

from clustering import dbread
from clustering.aggregate import DEFAULT_TIE_BREAK, Aggregation, aggregate
from clustering.conflicts import DEFAULT_POLICY
from clustering.gcpause import collector_paused
from clustering.votes import Decision, LabelDecision
from survey_app import aggregation_store, class_states, hierarchy_snapshot, models, store_files
from survey_app.caches import caches, freeze_survivors, kept
from survey_app.database import hierarchy_from_db
from survey_app.extensions import db
from survey_app.survey_settings import survey_settings
from survey_app.vote_log import database_votes


def database_decisions() -> list[Decision | LabelDecision]:
    """Every admin decision in the database: class decisions, then label decisions,
    each oldest first."""
    return dbread.read_decisions(db.session.connection())


# Where the append-only vote and decision logs end: a new row changes it. Their rows
# are counted: the highest id would miss a row that PostgreSQL numbered before another
# and committed after it.
_LOG_POSITION = select(
    *(
        select(func.count()).select_from(log).scalar_subquery()
        for log in (models.Vote, models.Decision, models.LabelDecision)
    )
)
# Aggregations kept per process, one per setting asked for (the review pages
# ask for one; the downloads may ask for others): more are forgotten.
AGGREGATIONS_KEPT = 8
# The queue's numbers (clustering.confidence), which the export reads too.
SURVEY_WEIGHTING = "confidence"
# An aggregation of this many classes is large enough that the collector's full passes
# over it cost requests 100 ms and more (ImageNet-21k's lists): it is frozen. By size,
# not by the time it took: after a vote at 21,843 classes it now takes less than the
# 1 s that used to tell.
FREEZE_CLASSES = 10_000


def current_aggregation(
    min_votes: int | None = None,
    conflicts: str = DEFAULT_POLICY,
    weighting: str = SURVEY_WEIGHTING,
    tie_break: str = DEFAULT_TIE_BREAK,
    *,
    may_lag: bool = False,
) -> Aggregation:
    """The CIL the database's votes and decisions give now (see
    `clustering.aggregate`). Every review page shows it, and it reads every
    vote: it is computed once per position of the logs (and hierarchy and
    settings), and kept until a vote or decision is added. `min_votes` is by default
    the fewest votes the queue closes a class with. By default each class's
    label is the most probable one given its votes, the annotators' reliability and
    the model's prior: the numbers the queue closes classes by (`class_states`).

    With `may_lag` (the review pages), where the kept one is behind the logs and took
    longer than AGGREGATION_INLINE_SECONDS to compute, it is returned at once while a
    thread computes the new one, and `g.aggregation_behind` says by how many rows:
    at ImageNet-21k's size an aggregation takes seconds (benchmarks/growth.py).
    Exports and the review's actions never lag."""
    position = tuple(db.session.execute(_LOG_POSITION).one())
    if min_votes is None:  # a class the queue may close is a decided one
        min_votes = survey_settings().closing.min_votes
    settings = (min_votes, conflicts, weighting, tie_break)
    by_settings = kept("aggregations", None, dict)
    known = by_settings.get(settings)
    if known is not None and known.position == position:
        return known.result
    if (
        may_lag
        and known is not None
        and known.seconds > current_app.config["AGGREGATION_INLINE_SECONDS"]
    ):
        _rebuild_in_background(settings)
        g.aggregation_behind = sum(
            new - old for new, old in zip(position, known.position, strict=True)
        )
        return known.result
    return _compute(settings, position, stored=known is None)


@dataclass(frozen=True)
class _Kept:
    position: tuple  # the logs' position it was computed at
    result: Aggregation
    seconds: float  # how long it took to compute (where it was computed)
    # Whether it is kept on disk, or is to be (`_keep_on_disk`): loaded from there, kept
    # there as slow, or the successor of one that was.
    on_disk: bool = False


# app.extensions[THREADS]: settings -> the thread computing its aggregation, one each;
# app.extensions[KEEPERS]: settings -> the thread keeping its latest on disk, one each.
THREADS = "aggregation_threads"
KEEPERS = "aggregation_keepers"
# app.extensions[PREPARE]: what derives the review pages' values from an aggregation
# (`review.derive_for_pages`), called where one is computed ahead of those pages: by
# the rebuild in the background, and gunicorn's warm-up (`survey_app.warmup`).
PREPARE = "aggregation_prepare"
_threads_lock = threading.Lock()


def _compute(settings: tuple, position: tuple, *, stored: bool) -> Aggregation:
    """Aggregate at `position`, and keep the result (in this process, for `settings`).
    With `stored`, load the result another process kept on disk instead where there is
    one, and keep a slow one there (`survey_app.aggregation_store`): for a process's
    first aggregation and the review pages' rebuild in the background. A request that
    needs the next one at once (after a vote: an export, a review action) computes it
    without: the digest of the logs and the pickling cost as much as the computing at
    ImageNet-21k's size. Where the one it follows was kept on disk, a thread keeps the
    new one there after the request (`_keep_on_disk`): a fresh process then loads the
    latest aggregation instead of computing it (3.7 s at ImageNet-21k's size).

    The cycle collector stays paused until the result is kept (and frozen, if large):
    resumed at the end of `aggregate`, its first pass walked every object of the new
    result, and freezing walks them again."""
    with collector_paused():
        return _compute_and_keep(settings, position, stored=stored)


def _compute_and_keep(settings: tuple, position: tuple, *, stored: bool) -> Aggregation:
    hierarchy = hierarchy_from_db()
    key = (
        aggregation_store.store_key(settings, hierarchy)
        if stored and store_files.enabled()
        else None
    )
    # A large one collected before loading, not after: a loaded aggregation makes no
    # cyclic garbage, and the collector's pass over its 3.7 million objects at
    # ImageNet-21k's size took a fifth of a fresh process's first aggregation. Only where
    # there is one to load: one computed is collected after (`freeze_survivors`).
    large = len(hierarchy.classes) >= FREEZE_CLASSES
    loaded = aggregation_store.load(key, hierarchy, collect_first=large) if key else None
    on_disk = loaded is not None
    if loaded is not None:
        result, seconds, derived = loaded
        hierarchy_snapshot.take_derived(hierarchy, derived)
        aggregator = result.aggregator
        if getattr(aggregator, "priors", None):  # the confidence weighting's
            aggregator.priors, aggregator.suggestions = class_states.shared_priors(
                aggregator.priors, aggregator.suggestions
            )
    else:
        hierarchy_snapshot.take_warm(hierarchy)
        started = time.perf_counter()
        result = _aggregate(settings, hierarchy)
        seconds = time.perf_counter() - started
        # Kept only if the logs did not move since `position`, read before the key: then
        # the key says exactly what it was computed from. The logs only grow while the
        # app runs, so their position tells, without digesting every row again.
        if (
            key
            and store_files.worth_keeping(seconds)
            and tuple(db.session.execute(_LOG_POSITION).one()) == position
        ):
            store_files.in_child(lambda: _save_with_warm(key, result, seconds))
            on_disk = True
    by_settings = kept("aggregations", None, dict)
    if settings not in by_settings and len(by_settings) >= AGGREGATIONS_KEPT:
        _forget(list(by_settings.values()))
        by_settings.clear()
    known = by_settings.get(settings)
    # The successor of one kept on disk is kept there too (by a thread, after this
    # request): one worth keeping once stays worth it, though after a vote it is quick.
    follows_disk = not on_disk and known is not None and known.on_disk
    if known is None or _not_after(known.position, position):
        by_settings[settings] = _Kept(position, result, seconds, on_disk or follows_disk)
        if known is not None and known.result is not result:
            _forget([known])
        if follows_disk:
            _keep_on_disk(settings)
    if len(result.outcomes) >= FREEZE_CLASSES:
        freeze_survivors(collect=loaded is None)
    return result


def _save_with_warm(key: str, result: Aggregation, seconds: float) -> None:
    """Keep `result` on disk, and what the aggregations derived from its hierarchy for a
    process that computes its first (`hierarchy_snapshot.keep_warm`)."""
    aggregation_store.save(key, result, seconds)
    hierarchy_snapshot.keep_warm(result.hierarchy)


def _forget(replaced: list[_Kept]) -> None:
    """Drop what was derived from aggregations no longer kept (`caches.forget_key`)."""
    for old in replaced:
        caches().forget_key(old.result)


def _aggregate(settings: tuple, hierarchy) -> Aggregation:
    min_votes, conflicts, weighting, tie_break = settings
    return aggregate(
        hierarchy,
        database_votes(),
        database_decisions(),
        min_votes=min_votes,
        tie_break=tie_break,
        weighting=weighting,
        conflicts=conflicts,
        source="database",
        check_decisions=False,  # the review pages show broken decisions; exports refuse
        priors=class_states.priors(),
        suggestions=class_states.suggestions(),
    )


def prepare_for_pages(result: Aggregation) -> None:
    """Derive what the review pages show of `result` now, where they are served (PREPARE)."""
    prepare = current_app.extensions.get(PREPARE)
    if prepare is not None:
        prepare(result)


def _not_after(earlier: tuple, later: tuple) -> bool:
    return all(a <= b for a, b in zip(earlier, later, strict=True))


def _rebuild_in_background(settings: tuple) -> None:
    """Start a thread computing the aggregation for `settings` at the logs' position
    then, unless one is at it already."""
    app = current_app._get_current_object()
    with _threads_lock:
        threads = app.extensions.setdefault(THREADS, {})
        if settings in threads and threads[settings].is_alive():
            return
        thread = threading.Thread(
            target=_rebuild, args=(app, settings), name="aggregation", daemon=True
        )
        threads[settings] = thread
        thread.start()


def _rebuild(app: Flask, settings: tuple) -> None:
    with app.app_context():
        try:
            result = _compute(settings, tuple(db.session.execute(_LOG_POSITION).one()), stored=True)
            prepare_for_pages(result)
        except Exception:  # a page keeps the last one; the next asks again
            app.logger.exception(
                "computing the aggregation, or what the review pages derive from it, in the "
                "background failed"
            )


def _keep_on_disk(settings: tuple) -> None:
    """Start a thread keeping the latest aggregation for `settings` on disk, unless one
    is at it already (it keeps whichever is the latest when it is done)."""
    app = current_app._get_current_object()
    with _threads_lock:
        keepers = app.extensions.setdefault(KEEPERS, {})
        if settings in keepers:
            return
        # Not a daemon: a process that ends (a worker restarted, a command done) finishes
        # writing first, a second at ImageNet-21k's size, rather than leave half a file.
        thread = threading.Thread(
            target=_keep_latest, args=(app, settings), name="aggregation keeper"
        )
        keepers[settings] = thread
        thread.start()


def _keep_latest(app: Flask, settings: tuple) -> None:
    """Keep this process's latest aggregation for `settings` on disk, and the one after
    it if one was kept meanwhile; done when the latest is on disk or the logs have moved
    past it (the one computed for them will be kept in its turn)."""
    kept_at = None
    with app.app_context():
        try:
            while True:
                with _threads_lock:
                    latest = caches(app).get("aggregations", None, dict).get(settings)
                    if latest is None or latest.position == kept_at:
                        app.extensions[KEEPERS].pop(settings, None)
                        return
                kept_at = latest.position
                _save_if_current(settings, latest)
                db.session.remove()  # a fresh snapshot of the logs for the next one
        except Exception:  # the next aggregation kept on disk tries again
            with _threads_lock:
                app.extensions[KEEPERS].pop(settings, None)
            app.logger.exception("keeping the aggregation on disk failed")


def _save_if_current(settings: tuple, latest: _Kept) -> None:
    """Save `latest` under the key of the logs as they are, if they are still at its
    position: digested first, then counted, so the digest read exactly the rows of that
    position (the logs only grow)."""
    result = latest.result
    with collector_paused():
        key = aggregation_store.store_key(settings, result.hierarchy)
        if tuple(db.session.execute(_LOG_POSITION).one()) != latest.position:
            return
    # Pickled by a child process: see `store_files.in_child`.
    store_files.in_child(lambda: aggregation_store.save(key, result, latest.seconds))


def keeping_threads(app: Flask) -> list[threading.Thread]:
    """The threads keeping aggregations on disk for `app` now (a test waits on them)."""
    with _threads_lock:
        return [t for t in app.extensions.get(KEEPERS, {}).values() if t.is_alive()]


def rebuilding_threads(app: Flask) -> list[threading.Thread]:
    """The threads computing aggregations for `app` now (a benchmark or test waits on them)."""
    with _threads_lock:
        return [t for t in app.extensions.get(THREADS, {}).values() if t.is_alive()]
