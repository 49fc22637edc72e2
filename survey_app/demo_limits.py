"""What the demo page lets one process and one client do: pictures decoded and classified at
once per process (DEMO_DECODE_CONCURRENCY), as password hashes are, and uploads per client
address (DEMO_RATE_LIMIT, counted by the `limits` package in DEMO_RATE_LIMIT_STORAGE).

A decode takes memory in proportion to the picture's pixels and a core while it runs, so a
burst of uploads waits here for a slot instead of taking the memory of all of them at once
and every core from the other pages. After an upload, the memory its decode freed is given
back to the system (`release_memory`): glibc's malloc keeps freed blocks of this size for
reuse, and a burst of 40-megapixel pictures left a process 530 MB larger for good
(`benchmarks/demo_burst.py --picture png-bomb --max-pixels 40000000 --clients 6`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from flask import current_app
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from survey_app.caches import kept

_slots_lock = threading.Lock()
# glibc's malloc_trim; None on a C library without it (musl, macOS), which then keeps its own.
_malloc_trim = getattr(ctypes.CDLL(ctypes.util.find_library("c")), "malloc_trim", None)


@contextmanager
def decoding_slot() -> Iterator[None]:
    """Hold one of the process's DEMO_DECODE_CONCURRENCY slots."""
    limit = current_app.config["DEMO_DECODE_CONCURRENCY"]
    with _slots_lock:  # one semaphore, however many requests ask for it at once
        slots = kept("demo_slots", limit, lambda: threading.BoundedSemaphore(limit))
    with slots:
        yield


def release_memory() -> None:
    """Give the freed memory of every thread's heap back to the system (malloc_trim(0))."""
    if _malloc_trim is not None:
        _malloc_trim(0)


def _limiter(storage: str) -> MovingWindowRateLimiter:
    return MovingWindowRateLimiter(storage_from_string(storage))


def upload_allowed(address: str | None) -> bool:
    """Count an upload from `address`; False once it is over DEMO_RATE_LIMIT ("10 per
    minute"; empty: no limit). The memory storage counts per process; a shared one
    (`redis://...`) counts across gunicorn's workers."""
    rule = current_app.config["DEMO_RATE_LIMIT"]
    if not rule:
        return True
    storage = current_app.config["DEMO_RATE_LIMIT_STORAGE"]
    with _slots_lock:
        limiter = kept("demo_limiter", storage, lambda: _limiter(storage))
    return limiter.hit(parse(rule), "demo-upload", address or "unknown")


# The demo's numeric settings and the least each may be.
_LEAST = {"DEMO_DECODE_CONCURRENCY": 1, "DEMO_MAX_PIXELS": 1, "DEMO_KEEP_MAX_BYTES": 0}


def settings_problem(config) -> str | None:
    """What is wrong with the demo's limits, for the error at start; None when nothing is."""
    for name, least in _LEAST.items():
        value = config[name]
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            return f"CIL_{name} must be a whole number of at least {least}, got {value!r}"
    rule = config["DEMO_RATE_LIMIT"]
    if rule:
        try:
            parse(rule)
        except ValueError:
            return f"CIL_DEMO_RATE_LIMIT {rule!r} is not a rate such as '10 per minute'"
    return None
