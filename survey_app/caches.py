"""What the app computes once per process and keeps: one registry on the app,
one rule for every value in it.

A value is kept with the key it was computed from (the end of the vote log, a
setting, a file's modification time, the counts it was built from) and is
computed again when asked for with another key. A key counts as the same when
it is the same object or an equal one; an equal one replaces the kept key, so
the next check is by identity and cheap. Whatever derives from the seeded
hierarchy or the search counts is forgotten at once by `clear()`, which
`seed_hierarchy` and `fill_search_counts` call: nothing kept outlives the
data it was computed from in this process.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Hashable
from typing import Any

from flask import Flask, current_app

EXTENSION = "survey_caches"


class Caches:
    """name -> (key, value) for the app's kept values."""

    def __init__(self) -> None:
        self._kept: dict[Hashable, tuple[Any, Any]] = {}

    def get(self, name: Hashable, key: Any, compute: Callable[[], Any]) -> Any:
        """The value kept under `name` for `key`, else `compute()`, kept for `key`."""
        kept = self._kept.get(name)
        if kept is not None and kept[0] is not key and kept[0] == key:
            kept = self._kept[name] = (key, kept[1])
        if kept is None or kept[0] is not key:
            kept = self._kept[name] = (key, compute())
        return kept[1]

    def forget_key(self, key: Any) -> None:
        """Forget every value kept for `key` (this very object): the review's values
        derived from an aggregation that a newer one replaced would otherwise keep it
        alive, a second aggregation in memory until each page asked again."""
        for name in [name for name, kept in list(self._kept.items()) if kept[0] is key]:
            self._kept.pop(name, None)

    def clear(self) -> None:
        """Forget every kept value: the hierarchy or the counts changed."""
        self._kept.clear()


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION] = Caches()


def caches(app: Flask | None = None) -> Caches:
    """The registry of `app`, by default the current one."""
    return (app or current_app).extensions[EXTENSION]


def kept(name: Hashable, key: Any, compute: Callable[[], Any]) -> Any:
    """`caches().get(...)`: the current app's value for `name` and `key`."""
    return caches().get(name, key, compute)


def freeze_survivors(collect: bool = True) -> None:
    """Collect what is garbage already, then move every object alive out of the
    collector's reach (`gc.freeze`): for what a process keeps long and large (the
    hierarchy; an aggregation at ImageNet-21k's size), whose hundreds of thousands of
    objects each full collection walked, a pause of 100-300 ms in whichever request
    set it off. A frozen object is still freed when its last reference goes; one in a
    reference cycle would never be, so what is frozen holds no cycles
    (tests/survey_app/test_frozen_aggregations.py). Without `collect`, the caller
    collected before it made what it freezes, and made no cyclic garbage since."""
    if collect:
        gc.collect()
    gc.freeze()
