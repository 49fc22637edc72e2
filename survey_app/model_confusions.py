"""What a trained model confuses each class with, for the annotate page.

`MODEL_CONFUSION` (`CIL_MODEL_CONFUSION`) names a run's `confusion.npy`, written by
`python -m trainer.features RUN_DIR` (rows named by `classes.txt` beside it). It is
read once per process and seeded hierarchy; the page then shows the three classes
the model most often predicts for the class's validation images, so annotators
see which merges the data support. Without the setting the page shows nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from flask import current_app

from clustering.confusion import ModelFileError, read_class_matrix
from clustering.hierarchy import ClassListError
from survey_app.annotate_data import display_names
from survey_app.caches import kept
from survey_app.database import hierarchy_from_db

SHOWN = 3


@dataclass(frozen=True)
class Confusion:
    wnid: str
    name: str
    share: float  # of the class's validation images, predicted as this class


def top_confusions(class_wnid: str) -> tuple[Confusion, ...]:
    """The classes the model takes `class_wnid` for most often, most first; empty without
    a confusion matrix, or for a class it never got wrong. Found once per class and kept
    with the matrix: the annotate page asks on every view."""
    path = current_app.config.get("MODEL_CONFUSION")
    if not path:
        return ()
    wnids, matrix, found = kept("model_confusions", path, lambda: _read(path))
    if matrix is None:
        return ()
    if class_wnid not in found:
        found[class_wnid] = _top(wnids, matrix, class_wnid)
    return found[class_wnid]


def _top(wnids: list[str], matrix: np.ndarray, class_wnid: str) -> tuple[Confusion, ...]:
    position = wnids.index(class_wnid)
    row = matrix[position].astype(np.float64)
    total = row.sum()
    row[position] = 0
    names = display_names()
    # Most images first, then the lower wnid: the same order on every page view.
    order = sorted((i for i in np.flatnonzero(row)), key=lambda i: (-row[i], wnids[i]))
    return tuple(Confusion(wnids[i], names[wnids[i]], row[i] / total) for i in order[:SHOWN])


def _read(path: str) -> tuple[list[str], np.ndarray | None, dict[str, tuple[Confusion, ...]]]:
    """The classes' wnids in the matrix's order, the matrix (None when it cannot be used),
    and an empty dict for each class's confusions as they are found."""
    hierarchy = hierarchy_from_db()
    try:
        matrix = read_class_matrix(path, hierarchy)
    except (ModelFileError, ClassListError) as exc:
        # A wrong setting should not take the annotate page down: said once, then off.
        current_app.logger.warning("MODEL_CONFUSION is not used: %s", exc)
        matrix = None
    return [c.wnid for c in hierarchy.classes], matrix, {}
