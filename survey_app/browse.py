"""The health endpoint and the browsable list of classes with their chains."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template, request
from sqlalchemy import func, or_, select, text
from sqlalchemy.orm import selectinload

from clustering.popularity import format_count, terms_for_synset
from survey_app.counts import cached_counts
from survey_app.extensions import db
from survey_app.models import ChainEntry, ImageClass, Synset

bp = Blueprint("browse", __name__)
PER_PAGE = 50


@bp.get("/health")
def health():
    """Liveness and readiness in one: 200 when the database answers."""
    db.session.execute(text("SELECT 1"))
    classes = db.session.scalar(select(func.count()).select_from(ImageClass))
    return jsonify(status="ok", database="ok", classes=classes)


@bp.get("/classes")
def class_list():
    query = request.args.get("q", "").strip()
    page = max(request.args.get("page", 1, type=int), 1)
    statement = select(ImageClass).join(ImageClass.synset).order_by(ImageClass.index)
    if query:
        pattern = f"%{query.lower()}%"
        statement = statement.where(or_(func.lower(Synset.lemmas_json).like(pattern),
                                        ImageClass.wnid == query))
    total = db.session.scalar(select(func.count()).select_from(statement.subquery()))
    classes = db.session.scalars(
        statement.options(selectinload(ImageClass.synset),
                          selectinload(ImageClass.chain).selectinload(ChainEntry.synset))
        .limit(PER_PAGE).offset((page - 1) * PER_PAGE)
    ).all()
    terms = {e.synset_wnid: terms_for_synset(e.synset.lemmas)[0]
             for c in classes for e in c.chain}
    counts = cached_counts(sorted(set(terms.values())))
    shown_counts = {
        wnid: (format_count(counts[term][0]), counts[term][1]) if term in counts else ("—", "")
        for wnid, term in terms.items()
    }
    pages = max((total + PER_PAGE - 1) // PER_PAGE, 1)
    return render_template("classes.html", classes=classes, counts=shown_counts, query=query,
                           page=page, pages=pages, total=total)
