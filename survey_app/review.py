"""The admin's review of the survey: progress and agreement, the disagreement
queue where a class is settled by an (append-only) decision, the "look at once"
overview of the current labels, and the downloads.

Every page aggregates the database's votes afresh through `survey_app.exports`,
the same code as `flask export-cil`, so what the admin sees is what an export
would write.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, SubmitField
from wtforms.validators import InputRequired, Length, Optional

from clustering.aggregate import DEFAULT_MIN_VOTES, Aggregation, ClassOutcome
from clustering.cil import dumps_cil
from clustering.conflicts import (
    DEFAULT_POLICY,
    POLICIES,
    ConflictError,
    describe_conflict,
    find_overlaps,
)
from clustering.hierarchy import Hierarchy
from clustering.votes import votes_to_jsonl
from survey_app import images
from survey_app.auth import admin_required
from survey_app.exports import current_aggregation, database_votes
from survey_app.extensions import db
from survey_app.forms import COMMENT_MAX, clean_text
from survey_app.models import Decision
from survey_app.seeding import hierarchy_from_db

bp = Blueprint("review", __name__, url_prefix="/admin/review")

STATUSES = ("voted", "undecided", "decided")


class DecisionForm(FlaskForm):
    """Settle one class: a synset of its chain (the choices), and why."""

    synset = SelectField("Label", validators=[InputRequired()], validate_choice=True)
    note = StringField("Note (optional)", validators=[Optional(), Length(max=COMMENT_MAX)])
    submit = SubmitField("Settle")


def decision_form(hierarchy: Hierarchy, wnid: str, current: str,
                  formdata: object | None = None) -> DecisionForm:
    form = DecisionForm(formdata=formdata, prefix=wnid)
    form.synset.choices = [(w, hierarchy.label(w))
                           for w in reversed(hierarchy.chain_wnids(wnid))]
    if formdata is None:
        form.synset.data = current
    return form


@bp.before_request
@admin_required
def require_admin() -> None:
    """Every page and action here is for admins only."""


@dataclass(frozen=True)
class QueueEntry:
    """A class an admin should look at, and why."""

    wnid: str
    outcome: ClassOutcome
    final: str  # its label in the CIL, after conflicts
    reasons: tuple[str, ...]  # "split", "tie", "conflict", "overlap", "comment"


def disagreement_queue(result: Aggregation) -> list[QueueEntry]:
    """Classes with split votes, ties, conflicts, overlaps or comments, not yet settled by
    a decision; the most split first."""
    in_conflict = {w for c in result.resolution.conflicts for w in (c.general, c.specific)}
    overlapping = {o.wnid for o in find_overlaps(result.hierarchy, result.resolution.assignment)}
    entries = []
    for wnid, outcome in result.outcomes.items():
        if outcome.status == "decided":
            continue
        reasons = []
        if len(outcome.votes) > 1:
            reasons.append("split")
        if outcome.tied:
            reasons.append("tie")
        if outcome.label in in_conflict or wnid in result.resolution.moved:
            reasons.append("conflict")
        if wnid in overlapping:
            reasons.append("overlap")
        if outcome.comments:
            reasons.append("comment")
        if reasons:
            entries.append(QueueEntry(wnid, outcome, result.resolution.assignment[wnid],
                                      tuple(reasons)))
    return sorted(entries, key=lambda e: (e.outcome.share if e.outcome.n_votes else 1.0,
                                          -e.outcome.n_votes, e.wnid))


def _label_names(result: Aggregation) -> dict[str, str]:
    return {label.wnid: label.name for label in result.cil.labels if label.wnid}


@bp.get("/")
def index():
    result = current_aggregation()
    counted = result.aggregator.counted_votes_
    last_vote: dict[str, datetime] = {}
    for vote in counted:
        if vote.annotator not in last_vote or vote.time > last_vote[vote.annotator]:
            last_vote[vote.annotator] = vote.time
    statuses = Counter(o.status for o in result.outcomes.values())
    return render_template(
        "review/index.html", result=result, agreement=result.agreement,
        classes_by_annotator=Counter(v.annotator for v in counted), last_vote=last_vote,
        statuses=statuses, total=len(result.outcomes),
        queue_length=len(disagreement_queue(result)),
        conflicts=[describe_conflict(result.hierarchy, c) for c in result.resolution.conflicts],
        policies=POLICIES, default_policy=DEFAULT_POLICY, min_votes=DEFAULT_MIN_VOTES)


@bp.get("/classes")
def classes():
    status = request.args.get("status", "")
    if status and status not in STATUSES:
        abort(400, description=f"status must be one of: {', '.join(STATUSES)}")
    result = current_aggregation()
    rows = [(wnid, o) for wnid, o in result.outcomes.items() if not status or o.status == status]
    return render_template("review/classes.html", rows=rows, result=result, status=status,
                           statuses=STATUSES, names=_label_names(result),
                           hierarchy=result.hierarchy)


@bp.get("/queue")
def queue():
    result = current_aggregation()
    hierarchy = result.hierarchy
    entries = disagreement_queue(result)
    forms = {e.wnid: decision_form(hierarchy, e.wnid, e.final) for e in entries}
    return render_template("review/queue.html", entries=entries, forms=forms,
                           hierarchy=hierarchy, names=_label_names(result))


@bp.post("/classes/<wnid>/decision")
def decide(wnid: str):
    hierarchy = hierarchy_from_db()
    if wnid not in hierarchy.class_index:
        abort(404, description=f"{wnid} is not one of the survey's classes")
    form = decision_form(hierarchy, wnid, wnid, formdata=request.form)
    if not form.validate():
        problems = "; ".join(f"{field}: {', '.join(errors)}"
                             for field, errors in form.errors.items())
        abort(400, description=f"The decision was not recorded: {problems}")
    try:
        note = clean_text(form.note.data, "note")
    except ValueError as exc:
        abort(400, description=f"The decision was not recorded: {exc}")
    db.session.add(Decision(admin_id=current_user.id, class_wnid=wnid,
                            synset_wnid=form.synset.data, note=note))
    db.session.commit()
    flash(f"Settled {hierarchy.label(wnid)} ({wnid}) as {hierarchy.label(form.synset.data)}.",
          "info")
    return redirect(url_for("review.queue"), code=303)


@bp.get("/overview")
def overview():
    result = current_aggregation()
    labels = sorted(result.cil.labels, key=lambda lab: (-len(lab.members), lab.name))
    groups = [(label, [(wnid, images.first_thumbnail_url(wnid)) for wnid in label.members])
              for label in labels]
    return render_template("review/overview.html", groups=groups, hierarchy=result.hierarchy,
                           image_warning=images.source_warning())


DOWNLOADS = {
    "cil.json": "application/json",
    "cil-flat.json": "application/json",
    "votes.jsonl": "application/x-ndjson",
}


@bp.get("/download/<name>")
def download(name: str):
    """The CIL (rich or flat) under `?conflicts=` and `?min_votes=`, or the votes."""
    if name not in DOWNLOADS:
        abort(404)
    if name == "votes.jsonl":
        body = votes_to_jsonl(database_votes())
    else:
        conflicts = request.args.get("conflicts", DEFAULT_POLICY)
        min_votes = request.args.get("min_votes", DEFAULT_MIN_VOTES, type=int)
        if conflicts not in POLICIES or min_votes < 1:
            abort(400, description=f"conflicts must be one of {', '.join(POLICIES)} and "
                                   "min_votes a whole number of at least 1")
        try:
            result = current_aggregation(min_votes=min_votes, conflicts=conflicts)
        except ConflictError as exc:
            return render_template("error.html", code=409, title="conflicts",
                                   message=str(exc)), 409
        body = dumps_cil(result.cil, flat=name == "cil-flat.json")
    return Response(body, mimetype=DOWNLOADS[name],
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
