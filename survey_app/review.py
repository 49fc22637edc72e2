"""The admin's review of the survey: progress and agreement, the disagreement
queue where a class is settled by an (append-only) decision, the "look at once"
overview of the current labels, and the downloads.

Every page aggregates the database's votes afresh through `survey_app.aggregation`,
the same code as `flask export-cil`, so what the admin sees is what an export
would write.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
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
    find_conflicts,
    find_overlaps,
)
from clustering.hierarchy import Hierarchy
from clustering.votes import votes_to_jsonl
from survey_app import images
from survey_app.aggregation import current_aggregation, database_votes
from survey_app.annotate_data import suggestions
from survey_app.auth import admin_required
from survey_app.caches import kept
from survey_app.database import hierarchy_from_db, require_class
from survey_app.extensions import db
from survey_app.models import Decision
from survey_app.paging import page_of
from survey_app.votes import COMMENT_MAX, clean_text

bp = Blueprint("review", __name__)

# The class list's filters: by vote, too few votes, settled by an admin, no clear
# winner, in a conflict among decided labels, with a comment.
FILTERS = ("voted", "undecided", "settled", "split", "conflict", "comment")
PER_PAGE = 50
MAX_PER_PAGE = 200
NAMES_SHOWN = 8  # member names on a label's card, and below a conflict's general label


class DecisionForm(FlaskForm):
    """Settle one class: a synset of its chain (the choices), and why."""

    synset = SelectField("Label", validators=[InputRequired()], validate_choice=True)
    note = StringField("Note (optional)", validators=[Optional(), Length(max=COMMENT_MAX)])
    submit = SubmitField("Settle")


def decision_form(
    hierarchy: Hierarchy, wnid: str, current: str, formdata: object | None = None
) -> DecisionForm:
    form = DecisionForm(formdata=formdata, prefix=wnid)
    form.synset.choices = [(w, hierarchy.label(w)) for w in reversed(hierarchy.chain_wnids(wnid))]
    if formdata is None:
        form.synset.data = current
    return form


@bp.before_request
@admin_required
def require_admin() -> None:
    """Every page and action here is for admins only."""


@dataclass(frozen=True)
class ConflictGroup:
    """A decided label above other decided labels: "bird is above ostrich, cock, ..."."""

    general: str
    specifics: tuple[str, ...]  # the decided labels below it, by name
    classes: tuple[str, ...]  # the classes decided as one of them, by name: what merging settles


def decided_labels(result: Aggregation) -> dict[str, str]:
    """Class -> label for the classes decided by vote or by an admin. An undecided
    class keeps its own label in an export, but it is no one's choice yet, so
    it makes no conflict worth an admin's time."""
    return {w: o.label for w, o in result.outcomes.items() if o.status != "undecided"}


def conflict_groups(result: Aggregation) -> list[ConflictGroup]:
    """The conflicts among decided labels, one group per general label, the
    groups by the general label's name (case-insensitive)."""
    return _derived(result, "conflict_groups", _conflict_groups)


def _conflict_groups(result: Aggregation) -> list[ConflictGroup]:
    decided = decided_labels(result)
    hierarchy = result.hierarchy
    below: dict[str, set[str]] = {}
    for conflict in find_conflicts(hierarchy, decided.values()):
        below.setdefault(conflict.general, set()).add(conflict.specific)
    classes_of: dict[str, list[str]] = {}
    for wnid, label in decided.items():
        classes_of.setdefault(label, []).append(wnid)
    groups = [
        ConflictGroup(
            general,
            _by_name(hierarchy, specifics),
            _by_name(hierarchy, (w for s in specifics for w in classes_of[s])),
        )
        for general, specifics in below.items()
    ]
    return sorted(groups, key=lambda g: _name_key(hierarchy, g.general))


def _derived(result: Aggregation, name: str, compute: Callable[[Aggregation], list]) -> list:
    """`compute(result)`, kept while `result` is the current aggregation (which
    `current_aggregation` keeps until a vote or decision is added): every review
    page needs the conflicts and the queue, and finding them took most of a
    page's time at 1,000 classes."""
    return kept(("review", name), result, lambda: compute(result))


def _name_key(hierarchy: Hierarchy, wnid: str) -> tuple[str, str]:
    return hierarchy.label(wnid).casefold(), wnid


def _by_name(hierarchy: Hierarchy, wnids: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(wnids, key=lambda w: _name_key(hierarchy, w)))


@dataclass(frozen=True)
class QueueEntry:
    """A class an admin should look at, and why."""

    wnid: str
    outcome: ClassOutcome
    final: str  # its label in the CIL, after conflicts
    reasons: tuple[str, ...]  # "split", "tie", "conflict", "overlap", "comment"
    since: datetime  # its latest counted vote: how long it has waited


def _clear_winner(outcome: ClassOutcome) -> bool:
    """More than half of the counted votes for one label."""
    return not outcome.tied and outcome.share > 0.5


def _latest_times(result: Aggregation, key: str) -> dict[str, datetime]:
    """The counted votes' `key` ("wnid", "annotator") -> the time of the latest of them."""
    latest: dict[str, datetime] = {}
    for vote in result.aggregator.counted_votes_:
        of = getattr(vote, key)
        if of not in latest or vote.time > latest[of]:
            latest[of] = vote.time
    return latest


def disagreement_queue(result: Aggregation) -> list[QueueEntry]:
    """The classes not settled by a decision that an admin should look at: those
    with at least the minimum votes and no clear winner, those whose decided
    label is in a conflict with another decided label (or that lie under two
    labels through two paths), and those with a comment, whatever their votes.
    A class without votes is never here. Oldest first: by the latest counted
    vote, so the class that has waited longest comes first."""
    return _derived(result, "queue", _disagreement_queue)


def _disagreement_queue(result: Aggregation) -> list[QueueEntry]:
    in_conflict = {w for g in conflict_groups(result) for w in (g.general, *g.specifics)}
    decided = decided_labels(result)
    overlapping = {o.wnid for o in find_overlaps(result.hierarchy, result.resolution.assignment)}
    since = _latest_times(result, "wnid")
    entries = []
    for wnid, outcome in result.outcomes.items():
        if outcome.status == "decided" or not outcome.n_votes:
            continue
        reasons = []
        if outcome.status == "voted" and not _clear_winner(outcome):
            reasons.append("split")
            if outcome.tied:
                reasons.append("tie")
        if wnid in decided and decided[wnid] in in_conflict:
            reasons.append("conflict")
        if wnid in decided and wnid in overlapping:
            reasons.append("overlap")
        if outcome.comments:
            reasons.append("comment")
        if reasons:
            entries.append(
                QueueEntry(
                    wnid, outcome, result.resolution.assignment[wnid], tuple(reasons), since[wnid]
                )
            )
    return sorted(entries, key=lambda e: (e.since, e.wnid))


def _label_names(result: Aggregation) -> dict[str, str]:
    return {label.wnid: label.name for label in result.cil.labels if label.wnid}


def _page_of(items: Sequence, per_page: int = PER_PAGE) -> tuple[Sequence, int, int]:
    """`page_of`, with `?per_page=` up to MAX_PER_PAGE."""
    return page_of(
        items, min(max(request.args.get("per_page", per_page, type=int), 1), MAX_PER_PAGE)
    )


@bp.get("/")
def index():
    """Progress and agreement: the classes' outcomes, each annotator's votes, and the conflict groups."""
    result = current_aggregation()
    counted = result.aggregator.counted_votes_
    statuses = Counter(o.status for o in result.outcomes.values())
    groups = conflict_groups(result)
    shown, page, pages = _page_of(groups)
    return render_template(
        "review/index.html",
        result=result,
        agreement=result.agreement,
        classes_by_annotator=Counter(v.annotator for v in counted),
        last_vote=_latest_times(result, "annotator"),
        suggested_share=_suggested_share(result),
        statuses=statuses,
        total=len(result.outcomes),
        queue_length=len(disagreement_queue(result)),
        groups=shown,
        n_groups=len(groups),
        page=page,
        pages=pages,
        hierarchy=result.hierarchy,
        policies=POLICIES,
        default_policy=DEFAULT_POLICY,
        min_votes=DEFAULT_MIN_VOTES,
        names_shown=NAMES_SHOWN,
    )


def _suggested_share(result: Aggregation) -> dict[str, tuple[int, int]]:
    """Annotator -> (votes equal to the suggestion, votes): how far the suggestion
    anchors each of them. The suggestion as the counts give it now, which is the
    one shown at the vote unless the counts were filled again since."""
    suggested = suggestions()
    shares: dict[str, list[int]] = {}
    for vote in result.aggregator.counted_votes_:
        agreed = shares.setdefault(vote.annotator, [0, 0])
        agreed[0] += suggested.get(vote.wnid) == vote.label
        agreed[1] += 1
    return {name: (agreed, n) for name, (agreed, n) in shares.items()}


def _class_filter(result: Aggregation, status: str, annotator: str) -> list[str]:
    """The classes under the filters, by name (case-insensitive)."""
    wnids: Iterable[str] = result.outcomes
    if status:
        queue = {e.wnid: e.reasons for e in disagreement_queue(result)}
        test = {
            "voted": lambda o: o.status == "voted",
            "undecided": lambda o: o.status == "undecided",
            "settled": lambda o: o.status == "decided",
            "split": lambda o: "split" in queue.get(o.wnid, ()),
            "conflict": lambda o: "conflict" in queue.get(o.wnid, ()),
            "comment": lambda o: bool(o.comments),
        }[status]
        wnids = [w for w in wnids if test(result.outcomes[w])]
    if annotator:
        voted_by = {v.wnid for v in result.aggregator.counted_votes_ if v.annotator == annotator}
        wnids = [w for w in wnids if w in voted_by]
    return list(_by_name(result.hierarchy, wnids))


@bp.get("/classes")
def classes():
    """Every class with its votes and outcome, filtered by ?status= and ?annotator=."""
    status = request.args.get("status", "")
    annotator = request.args.get("annotator", "")
    if status and status not in FILTERS:
        abort(400, description=f"status must be one of: {', '.join(FILTERS)}")
    result = current_aggregation()
    annotators = sorted({v.annotator for v in result.aggregator.counted_votes_}, key=str.casefold)
    if annotator and annotator not in annotators:
        abort(400, description=f"{annotator!r} has no counted vote")
    matching = _class_filter(result, status, annotator)
    wnids, page, pages = _page_of(matching)
    return render_template(
        "review/classes.html",
        wnids=wnids,
        total=len(matching),
        result=result,
        status=status,
        filters=FILTERS,
        annotator=annotator,
        annotators=annotators,
        names=_label_names(result),
        hierarchy=result.hierarchy,
        page=page,
        pages=pages,
    )


@bp.get("/queue")
def queue():
    """The classes an admin should settle, each with a decision form."""
    result = current_aggregation()
    hierarchy = result.hierarchy
    entries = disagreement_queue(result)
    shown, page, pages = _page_of(entries)
    forms = {e.wnid: decision_form(hierarchy, e.wnid, e.final) for e in shown}
    return render_template(
        "review/queue.html",
        entries=shown,
        total=len(entries),
        forms=forms,
        hierarchy=hierarchy,
        names=_label_names(result),
        page=page,
        pages=pages,
    )


def _record_decision(wnid: str, label: str, note: str | None) -> None:
    db.session.add(
        Decision(admin_id=current_user.id, class_wnid=wnid, synset_wnid=label, note=note)
    )


@bp.post("/classes/<wnid>/decision")
def decide(wnid: str):
    """Settle a class with an (append-only) decision."""
    require_class(wnid)
    hierarchy = hierarchy_from_db()
    form = decision_form(hierarchy, wnid, wnid, formdata=request.form)
    if not form.validate():
        problems = "; ".join(
            f"{field}: {', '.join(errors)}" for field, errors in form.errors.items()
        )
        abort(400, description=f"The decision was not recorded: {problems}")
    try:
        note = clean_text(form.note.data, "note")
    except ValueError as exc:
        abort(400, description=f"The decision was not recorded: {exc}")
    _record_decision(wnid, form.synset.data, note)
    db.session.commit()
    flash(
        f"Settled {hierarchy.label(wnid)} ({wnid}) as {hierarchy.label(form.synset.data)}.", "info"
    )
    return redirect(url_for("review.queue"), code=303)


@bp.post("/conflicts/<general>/merge")
def merge(general: str):
    """Settle a conflict group in one click: every class decided as a label below
    `general` is settled as `general`."""
    result = current_aggregation()
    group = next((g for g in conflict_groups(result) if g.general == general), None)
    if group is None:
        abort(404, description="No conflict among the decided labels has this label above others.")
    hierarchy = result.hierarchy
    for wnid in group.classes:
        _record_decision(wnid, general, f"merged into {hierarchy.label(general)}")
    db.session.commit()
    flash(
        f"Settled {len(group.classes)} class{'es' if len(group.classes) != 1 else ''} as "
        f"{hierarchy.label(general)}.",
        "info",
    )
    return redirect(url_for("review.index"), code=303)


@bp.get("/overview")
def overview():
    """The current labels, largest first, each with a picture and member names."""
    result = current_aggregation()
    hierarchy = result.hierarchy
    labels = sorted(result.cil.labels, key=lambda lab: (-len(lab.members), lab.name.casefold()))
    shown, page, pages = _page_of(labels)
    cards = [
        (
            label,
            next(filter(None, map(images.first_thumbnail_url, label.members)), None),
            [hierarchy.label(w) for w in label.members[:NAMES_SHOWN]],
        )
        for label in shown
    ]
    return render_template(
        "review/overview.html",
        cards=cards,
        total=len(labels),
        image_warning=images.source_warning(),
        page=page,
        pages=pages,
    )


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
            abort(
                400,
                description=f"conflicts must be one of {', '.join(POLICIES)} and "
                "min_votes a whole number of at least 1",
            )
        try:
            result = current_aggregation(min_votes=min_votes, conflicts=conflicts)
            result.resolution.check_decisions()
        except ConflictError as exc:
            return render_template("error.html", code=409, title="conflicts", message=str(exc)), 409
        body = dumps_cil(result.cil, flat=name == "cil-flat.json")
    return Response(
        body,
        mimetype=DOWNLOADS[name],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
