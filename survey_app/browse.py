"""The browsable list of classes with their chains."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from clustering.dbread import DatabaseError
from clustering.familiarity import synset_familiarity
from clustering.hierarchy import Hierarchy, ImageClass
from clustering.popularity import format_count
from survey_app.annotate_data import general_prefix
from survey_app.caches import kept
from survey_app.counts import recent_counts, recent_word_counts
from survey_app.database import hierarchy_from_db
from survey_app.paging import page_of

bp = Blueprint("browse", __name__)
PER_PAGE = 50


def _searchable(word: str) -> str:
    """A lemma or query as the search compares it: "coach_dog" and "Coach dog" alike."""
    return word.replace("_", " ").lower()


def _matches(hierarchy: Hierarchy, query: str) -> list[ImageClass]:
    """The classes, in index order, whose wnid is the query or one of whose
    names holds it, ignoring case."""
    if not query or not hierarchy.classes:
        return hierarchy.classes
    names = kept(
        "class_search",
        None,
        lambda: {
            c.wnid: tuple(_searchable(lemma) for lemma in hierarchy.synsets[c.wnid].lemmas)
            for c in hierarchy.classes
        },
    )
    wnid, needle = query.lower(), _searchable(query)
    return [
        c
        for c in hierarchy.classes
        if c.wnid.lower() == wnid or any(needle in name for name in names[c.wnid])
    ]


@bp.get("/classes")
def class_list():
    """The classes whose names hold ?q=, 50 a page, with their chains and counts.
    Read from the kept hierarchy and counts (`hierarchy_from_db`,
    `recent_counts`), as the annotate page is."""
    query = request.args.get("q", "").strip()
    try:
        hierarchy = hierarchy_from_db()
    except DatabaseError:  # not seeded yet: the page says how to seed it
        hierarchy = Hierarchy({}, {}, [])
    matches = _matches(hierarchy, query)
    classes, page, pages = page_of(matches, PER_PAGE)
    counts, word_counts = recent_counts(), recent_word_counts()
    # The same sense-aware figure, from the same lemma, as the annotate page shows.
    familiarity = {
        e.wnid: synset_familiarity(hierarchy.synsets[e.wnid], word_counts)
        for c in classes
        for e in c.chain
    }
    shown_counts = {
        wnid: (format_count(f.count), counts.get(f.lemma, (None, ""))[1])
        for wnid, f in familiarity.items()
    }
    folded = {c.wnid: general_prefix(hierarchy, [e.wnid for e in c.chain]) for c in classes}
    return render_template(
        "classes.html",
        classes=classes,
        synsets=hierarchy.synsets,
        folded=folded,
        counts=shown_counts,
        query=query,
        page=page,
        pages=pages,
        total=len(matches),
    )
