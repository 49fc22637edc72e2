"""Seed the database from a Hierarchy: synsets, edges, classes and chains,
written once, so the app never loads WordNet at request time
(`database.hierarchy_from_db` reads the Hierarchy back).
"""

from __future__ import annotations

import json

from sqlalchemy import select

from clustering.dbread import WORD_FACTS_KEY, word_facts_to_json
from clustering.hierarchy import Hierarchy
from survey_app.caches import caches
from survey_app.errors import SurveyError
from survey_app.extensions import db
from survey_app.models import ChainEntry, ImageClass, Meta, Synset, SynsetEdge


class SeedError(SurveyError, RuntimeError):
    """The database holds a different hierarchy; nothing was changed."""


def seed_hierarchy(hierarchy: Hierarchy) -> dict[str, int]:
    """Insert what is missing; a second run with the same hierarchy adds nothing.
    Returns the number of rows added per table."""
    stored_version = db.session.get(Meta, "hierarchy_version")
    if stored_version and stored_version.value != hierarchy.version:
        raise SeedError(
            f"the database was seeded from hierarchy {stored_version.value}, not "
            f"{hierarchy.version}; votes refer to its classes, so it is not reseeded. "
            "Use a new database (DATABASE_URL) for a different class list."
        )
    added = {"synsets": 0, "edges": 0, "classes": 0, "chain_entries": 0, "word_facts": 0}
    have_synsets = set(db.session.scalars(select(Synset.wnid)))
    for s in hierarchy.synsets.values():
        if s.wnid not in have_synsets:
            db.session.add(
                Synset(
                    wnid=s.wnid,
                    name=s.name,
                    lemmas_json=json.dumps(list(s.lemmas)),
                    gloss=s.gloss,
                    depth=s.depth,
                )
            )
            added["synsets"] += 1
    db.session.flush()
    have_edges = {
        tuple(row) for row in db.session.execute(select(SynsetEdge.child, SynsetEdge.parent))
    }
    for child, parents in hierarchy.parents.items():
        for parent in parents:
            if (child, parent) not in have_edges:
                db.session.add(SynsetEdge(child=child, parent=parent))
                added["edges"] += 1
    have_classes = set(db.session.scalars(select(ImageClass.wnid)))
    for c in hierarchy.classes:
        if c.wnid in have_classes:
            continue
        db.session.add(ImageClass(wnid=c.wnid, index=c.index, n_paths=c.n_paths))
        added["classes"] += 1
        for position, entry in enumerate(c.chain):
            db.session.add(
                ChainEntry(
                    class_wnid=c.wnid,
                    position=position,
                    synset_wnid=entry.wnid,
                    paths=",".join(map(str, entry.paths)),
                )
            )
            added["chain_entries"] += 1
    if not stored_version:
        db.session.add(Meta(key="hierarchy_version", value=hierarchy.version))
    # The entry-level suggestion reads them; a database seeded before them gets them here.
    if hierarchy.has_word_facts and db.session.get(Meta, WORD_FACTS_KEY) is None:
        db.session.add(Meta(key=WORD_FACTS_KEY, value=word_facts_to_json(hierarchy)))
        added["word_facts"] = 1
    db.session.commit()
    caches().clear()  # all they keep derives from the hierarchy
    return added
