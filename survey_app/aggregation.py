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


# app.extensions[THREADS]: settings -> the thread computing its aggregation, one each.
THREADS = "aggregation_threads"
_threads_lock = threading.Lock()


def _compute(settings: tuple, position: tuple, *, stored: bool) -> Aggregation:
    """Aggregate at `position`, and keep the result (in this process, for `settings`).
    With `stored`, load the result another process kept on disk instead where there is
    one, and keep a slow one there (`survey_app.aggregation_store`): for a process's
    first aggregation and the review pages' rebuild in the background. A request that
    needs the next one at once (after a vote: an export, a review action) computes it
    without: the digest of the logs and the pickling cost a third of the computing at
    ImageNet-21k's size, and only another fresh process would read the file.

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
    loaded = aggregation_store.load(key, hierarchy) if key else None
    if loaded is not None:
        result, seconds = loaded
        aggregator = result.aggregator
        if getattr(aggregator, "priors", None):  # the confidence weighting's
            aggregator.priors, aggregator.suggestions = class_states.shared_priors(
                aggregator.priors, aggregator.suggestions
            )
    else:
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
            aggregation_store.save(key, result, seconds)
            hierarchy_snapshot.keep_warm(hierarchy)
    by_settings = kept("aggregations", None, dict)
    if settings not in by_settings and len(by_settings) >= AGGREGATIONS_KEPT:
        _forget(list(by_settings.values()))
        by_settings.clear()
    known = by_settings.get(settings)
    if known is None or _not_after(known.position, position):
        by_settings[settings] = _Kept(position, result, seconds)
        if known is not None and known.result is not result:
            _forget([known])
    if len(result.outcomes) >= FREEZE_CLASSES:
        freeze_survivors()
    return result


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
            _compute(settings, tuple(db.session.execute(_LOG_POSITION).one()), stored=True)
        except Exception:  # a page keeps the last one; the next asks again
            app.logger.exception("computing the aggregation in the background failed")


def rebuilding_threads(app: Flask) -> list[threading.Thread]:
    """The threads computing aggregations for `app` now (a benchmark or test waits on them)."""
    with _threads_lock:
        return [t for t in app.extensions.get(THREADS, {}).values() if t.is_alive()]
