"""Pausing Python's cycle collector while a job builds many objects at once.

Aggregating ImageNet-21k's classes makes hundreds of thousands of small dicts,
lists and outcomes, and each of the collector's full passes walks all of them (and
the hierarchy): a third of the aggregation's time at that size
(benchmarks/aggregate_21k.py). Reference counting still frees what the job drops;
only cycles wait for the collector, which runs again once the last paused job ends.
Jobs in several threads (the survey's background aggregation beside a request's)
may overlap: the collector is resumed when the last of them ends, and only if it
was running when the first began.
"""

from __future__ import annotations

import gc
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["collector_paused"]

_lock = threading.Lock()
_running = 0  # paused jobs now running
_was_enabled = False  # whether the collector ran before the first of them began


def _after_fork_in_child() -> None:
    """A forked child has only the thread that forked: another's hold on the lock, or
    its paused job, is not there to end (survey_app.store_files.in_child)."""
    global _lock, _running
    _lock = threading.Lock()
    _running = 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Run the block with the cycle collector paused (see the module's docstring)."""
    global _running, _was_enabled
    with _lock:
        if _running == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _running += 1
    try:
        yield
    finally:
        with _lock:
            _running -= 1
            if _running == 0 and _was_enabled:
                gc.enable()
