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
from survey_app.class_view import display_names, hierarchy_cache
from survey_app.seeding import hierarchy_from_db

SHOWN = 3


@dataclass(frozen=True)
class Confusion:
    wnid: str
    name: str
    share: float  # of the class's validation images, predicted as this class


def top_confusions(class_wnid: str) -> tuple[Confusion, ...]:
    """The classes the model takes `class_wnid` for most often, most first; empty without
    a confusion matrix, or for a class it never got wrong."""
    path = current_app.config.get("MODEL_CONFUSION")
    if not path:
        return ()
    kept = hierarchy_cache("cil_model_confusions")
    if kept.get("path") != path:
        hierarchy = hierarchy_from_db()
        try:
            matrix = read_class_matrix(path, hierarchy)
        except (ModelFileError, ClassListError) as exc:
            # A wrong setting should not take the annotate page down: said once, then off.
            current_app.logger.warning("MODEL_CONFUSION is not used: %s", exc)
            matrix = None
        kept.update(path=path, matrix=matrix, wnids=[c.wnid for c in hierarchy.classes])
    wnids, matrix = kept["wnids"], kept["matrix"]
    if matrix is None:
        return ()
    position = wnids.index(class_wnid)
    row = matrix[position].astype(np.float64)
    total = row.sum()
    row[position] = 0
    names = display_names()
    # Most images first, then the lower wnid: the same order on every page view.
    order = sorted((i for i in np.flatnonzero(row)), key=lambda i: (-row[i], wnids[i]))
    return tuple(Confusion(wnids[i], names[wnids[i]], row[i] / total) for i in order[:SHOWN])
