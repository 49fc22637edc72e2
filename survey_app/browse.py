"""The browsable list of classes with their chains."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, render_template, request

from clustering.dbread import DatabaseError
from clustering.familiarity import synset_familiarity
from clustering.hierarchy import Hierarchy, ImageClass
from clustering.popularity import format_count
from survey_app.annotate_data import count_notes, general_prefix
from survey_app.caches import kept
from survey_app.counts import recent_counts, recent_word_counts
from survey_app.database import hierarchy_from_db
from survey_app.paging import page_of

bp = Blueprint("browse", __name__)
PER_PAGE = 50
KEPT_SEARCHES = 64  # queries whose matches a process keeps (see _found)


def _searchable(word: str) -> str:
    """A lemma or query as the search compares it: "coach_dog" and "Coach dog" alike."""
    return word.replace("_", " ").lower()


@dataclass(frozen=True)
class _SearchIndex:
    """What the search compares, built once per process from the hierarchy."""

    names: dict[str, tuple[str, ...]]  # class wnid -> its lemmas
    # (synset, " lemma | lemma ") for every synset: a query's words are found whole
    # by looking for " words " in it, never across two lemmas
    lemmas: tuple[tuple[str, str], ...]


def _search_index(hierarchy: Hierarchy) -> _SearchIndex:
    return _SearchIndex(
        names={
            c.wnid: tuple(_searchable(lemma) for lemma in hierarchy.synsets[c.wnid].lemmas)
            for c in hierarchy.classes
        },
        lemmas=tuple(
            (wnid, "|".join(f" {_searchable(lemma)} " for lemma in synset.lemmas))
            for wnid, synset in hierarchy.synsets.items()
        ),
    )


def _matches(hierarchy: Hierarchy, query: str) -> list[ImageClass]:
    """The classes whose wnid is the query or one of whose names holds it, ignoring
    case; then those with the query's words, whole, on their chain ("dog" finds
    every class under dog, but "cat" not those under "domesticated animal").
    Each group in index order."""
    if not query or not hierarchy.classes:
        return hierarchy.classes
    index = kept("class_search", None, lambda: _search_index(hierarchy))
    wnid, needle = query.lower(), _searchable(query)
    named = [
        c
        for c in hierarchy.classes
        if c.wnid.lower() == wnid or any(needle in name for name in index.names[c.wnid])
    ]
    words = f" {' '.join(needle.split())} "
    below = {
        class_wnid
        for synset, lemmas in index.lemmas
        if words in lemmas
        for class_wnid in hierarchy.descendants[synset]
    }
    below.difference_update(c.wnid for c in named)
    return named + [c for c in hierarchy.classes if c.wnid in below]


def _found(hierarchy: Hierarchy, query: str) -> list[ImageClass]:
    """`_matches`, kept for the last KEPT_SEARCHES queries while the hierarchy is the
    same: each search compares every class's names and every synset's lemmas, 30 ms
    a request at ImageNet-21k's size, and a list is paged through with one query."""
    found = kept("class_search_results", hierarchy, dict)
    if query not in found:
        if len(found) >= KEPT_SEARCHES:
            # the oldest; pop, not del: another thread may have just dropped it
            found.pop(next(iter(found), None), None)
        found[query] = _matches(hierarchy, query)
    return found[query]


def _paths(hierarchy: Hierarchy, image_class: ImageClass) -> list[tuple[list[str], list[str]]]:
    """Each hypernym path of the class, root first, as (its most general entries,
    folded as on the annotate page; the rest): two paths shown as one chain read
    as if one path's entries were above the other's."""
    paths = []
    for number in range(image_class.n_paths):
        path = [e.wnid for e in image_class.chain if number in e.paths]
        folded = general_prefix(hierarchy, path)
        paths.append((path[:folded], path[folded:]))
    return paths


@bp.get("/classes")
def class_list():
    """The classes found by ?q=, 50 a page, with their paths and counts.
    Read from the kept hierarchy and counts (`hierarchy_from_db`,
    `recent_counts`), as the annotate page is."""
    query = request.args.get("q", "").strip()
    try:
        hierarchy = hierarchy_from_db()
    except DatabaseError:  # not seeded yet: the page says how to seed it
        hierarchy = Hierarchy({}, {}, [])
    matches = _found(hierarchy, query)
    classes, page, pages = page_of(matches, PER_PAGE)
    counts, word_counts = recent_counts(), recent_word_counts()
    # The same sense-aware figure, from the same lemma, as the annotate page shows.
    familiarity = {
        e.wnid: synset_familiarity(hierarchy.synsets[e.wnid], word_counts)
        for c in classes
        for e in c.chain
    }
    provider = {wnid: counts.get(f.lemma, (None, ""))[1] for wnid, f in familiarity.items()}
    # What the figures are, said once above the list by an example per provider
    # (the annotate page says it per candidate).
    notes = count_notes(
        (
            hierarchy.label(e.wnid),
            familiarity[e.wnid].count,
            familiarity[e.wnid].lemma,
            provider[e.wnid],
        )
        for c in classes
        for e in reversed(c.chain)
    )
    return render_template(
        "classes.html",
        classes=classes,
        synsets=hierarchy.synsets,
        paths={c.wnid: _paths(hierarchy, c) for c in classes},
        counts={wnid: format_count(f.count) for wnid, f in familiarity.items()},
        count_notes=notes,
        query=query,
        page=page,
        pages=pages,
        total=len(matches),
    )
