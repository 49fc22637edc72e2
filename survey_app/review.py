"""The admin's review of the survey: progress and agreement, the disagreement
queue where conflicts are settled as labels (label decisions) and classes one by
one (class decisions, both append-only), a page per class, the "look at once"
overview of the current labels, and the downloads.

Every page aggregates the database's votes afresh through `survey_app.aggregation`,
the same code as `flask export-cil`, so what the admin sees is what an export
would write.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

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
from sqlalchemy import select
from wtforms import HiddenField, RadioField, SelectField, StringField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, InputRequired, Length, Optional

from clustering.aggregate import Aggregation
from clustering.cil import dumps_cil
from clustering.confidence import TeamSkills, team_skills
from clustering.conflicts import (
    DEFAULT_POLICY,
    POLICIES,
    ConflictError,
    ConflictGroup,
    Settlement,
)
from clustering.hierarchy import Hierarchy
from clustering.votes import LabelDecision as LabelDecisionValue
from clustering.votes import label_decision_problems, votes_to_jsonl
from survey_app import class_states, images, label_decisions
from survey_app.aggregation import PREPARE, current_aggregation
from survey_app.auth import admin_required
from survey_app.database import require_class
from survey_app.disagreements import (
    PER_PAGE,
    SAID_IN_FULL,
    QueueEntry,
    by_name,
    chosen_by,
    class_entries,
    closing_state,
    conflict_rows,
    derived,
    disagreement_queue,
    latest_times,
    proposal_text,
    queue_pages,
)
from survey_app.downloads import PreparedDownload, send
from survey_app.extensions import db
from survey_app.models import Decision, LabelDecision, User, Vote
from survey_app.paging import page_of
from survey_app.survey_settings import survey_settings
from survey_app.vote_log import database_votes
from survey_app.votes import COMMENT_MAX, clean_text

bp = Blueprint("review", __name__)


@bp.record_once
def _prepare_ahead(state) -> None:
    state.app.extensions[PREPARE] = derive_for_pages


def derive_for_pages(result: Aggregation) -> None:
    """What the review pages derive from an aggregation (each kept while it is the
    current one), derived ahead of them: the disagreement queue, with its class entries
    and open conflicts, the summary's conflict rows and the agreement figures. At
    ImageNet-21k's size they took the first review page to show a new aggregation 1.3 s
    (the agreement 0.1 s more). Called where an aggregation is computed ahead of the
    pages (`aggregation.PREPARE`): gunicorn's warm-up, and the rebuild in the background
    after a vote."""
    disagreement_queue(result)
    _all_conflicts(result)
    _ = result.agreement  # computed where first asked (`Aggregation.agreement`)


def _all_conflicts(result: Aggregation) -> list:
    """The summary's rows: every conflict group, open or settled."""
    return derived(result, "all_conflicts", lambda r: conflict_rows(r, r.resolution.groups))


# The class list's filters: by vote, too few votes, settled by an admin, no clear
# winner, its label in an open conflict, under two labels, with a comment.
FILTERS = ("voted", "undecided", "settled", "unsure", "split", "conflict", "overlap", "comment")
MAX_PER_PAGE = 200
NAMES_SHOWN = 8  # member names on a label's card, and below a conflict's general label
PICTURES = 3  # of a conflict's members in its queue row
CLASS_PICTURES = 6
ACCEPTED_AS_EXPORTED = "accepted as exported"


class DecisionForm(FlaskForm):
    """Settle one class: a synset of its chain (the choices), and why. `then` is
    "merge" once the admin has confirmed the labels the decision merges; `back`
    says which page to return to."""

    synset = SelectField("Label", validators=[InputRequired()], validate_choice=True)
    note = StringField("Note (optional)", validators=[Optional(), Length(max=COMMENT_MAX)])
    then = HiddenField(validators=[Optional(), AnyOf(["merge"])])
    back = HiddenField(validators=[Optional(), AnyOf(["queue", "class"])])
    submit = SubmitField("Settle")


def decision_form(
    hierarchy: Hierarchy,
    wnid: str,
    current: str,
    formdata: object | None = None,
    back: str = "queue",
) -> DecisionForm:
    form = DecisionForm(formdata=formdata, prefix=wnid)
    form.synset.choices = [
        SelectChoice(w, hierarchy.label(w)) for w in reversed(hierarchy.chain_wnids(wnid))
    ]
    if formdata is None:
        form.synset.data = current
        form.back.data = back
    return form


class SettleForm(FlaskForm):
    """Settle a conflict differently: keep or merge each label below (a radio field
    per label, added by `settle_form`), and the name of the general label's rest.
    The name's choices are not checked here: `label_decisions.record` checks them,
    with the same message the API gives."""

    name = SelectField("Name the rest", validate_choice=False)
    note = StringField("Note (optional)", validators=[Optional(), Length(max=COMMENT_MAX)])
    submit = SubmitField("Settle")


def settle_form(
    hierarchy: Hierarchy,
    general: str,
    specifics: Sequence[str],
    proposed: Iterable[str] = (),
    name: str | None = None,
    formdata: object | None = None,
) -> SettleForm:
    """The form for one group: `proposed` are the labels kept now, `name` the rest's now.
    The queue draws the radio buttons itself (see queue.html)."""
    keep = set(proposed)
    fields = {
        f"label_{w}": RadioField(
            hierarchy.label(w),
            choices=[SelectChoice("keep"), SelectChoice("merge")],
            default="keep" if w in keep else "merge",
            validators=[InputRequired()],
        )
        for w in specifics
    }
    form = type("GroupSettleForm", (SettleForm,), fields)(formdata=formdata, prefix=general)
    if general in hierarchy.synsets:
        lemmas = [lemma.replace("_", " ") for lemma in hierarchy.synsets[general].lemmas]
        form.name.choices = [SelectChoice(lemma, f"other {lemma}") for lemma in lemmas]
        if formdata is None:
            form.name.data = name or lemmas[0]
    return form


@bp.before_request
@admin_required
def require_admin() -> None:
    """Every page and action here is for admins only."""


def _pictures(wnids: Iterable[str], limit: int = PICTURES) -> list[tuple[str, str]]:
    """(url, class wnid) of the first small picture of up to `limit` of the classes."""
    found = []
    for wnid in wnids:
        url = images.first_thumbnail_url(wnid)
        if url:
            found.append((url, wnid))
            if len(found) == limit:
                break
    return found


def _label_names(result: Aggregation) -> dict[str, str]:
    """Label wnid -> its name in the CIL, kept per aggregation: at ImageNet-21k's size
    building it took a review page 1.5 ms of its 13."""
    return derived(result, "label_names", _label_names_of)


def _label_names_of(result: Aggregation) -> dict[str, str]:
    return {label.wnid: label.name for label in result.cil.labels if label.wnid}


def _page_of(items: Sequence, per_page: int = PER_PAGE) -> tuple[Sequence, int, int]:
    """`page_of`, with `?per_page=` up to MAX_PER_PAGE."""
    return page_of(
        items, min(max(request.args.get("per_page", per_page, type=int), 1), MAX_PER_PAGE)
    )


@bp.get("/queue")
def queue():
    """Each open conflict with its proposal, Accept and a settle form; the classes
    with a reason of their own, each with a decision form."""
    result = current_aggregation(may_lag=True)
    hierarchy = result.hierarchy
    entries = disagreement_queue(result)
    shown, page, pages = _page_of(entries)
    conflicts = [e for e in shown if e.kind == "conflict"]
    classes = [e for e in shown if e.kind == "class"]
    settlements = result.resolution.settlements
    return render_template(
        "review/queue.html",
        conflicts=conflicts,
        classes=classes,
        **derived(result, "queue_counts", _queue_counts),
        proposals={row.general: proposal_text(hierarchy, row) for row in conflicts},
        pictures={row.general: _pictures(row.members()) for row in conflicts},
        settle_forms={
            row.general: settle_form(
                hierarchy,
                row.general,
                row.group.specifics,
                (w for w in row.group.specifics if settlements[w].kept),
                row.rest_name,
            )
            for row in conflicts
        },
        forms={e.wnid: decision_form(hierarchy, e.wnid, e.final) for e in classes},
        hierarchy=hierarchy,
        names=_label_names(result),
        broken=result.resolution.broken,
        page=page,
        pages=pages,
    )


def _queue_counts(result: Aggregation) -> dict[str, int]:
    """The disagreement queue's conflicts, classes and proposals, counted once per
    aggregation rather than over the whole queue on each page of it."""
    entries = disagreement_queue(result)
    return {
        "n_conflicts": sum(e.kind == "conflict" for e in entries),
        "n_classes": sum(e.kind == "class" for e in entries),
        "n_proposed": sum(e.kind == "conflict" or e.proposed for e in entries),
    }


def _after_settling():
    return redirect(url_for("review.queue"), code=303)


@bp.post("/conflicts/<general>/accept")
def accept(general: str):
    """Record a conflict's proposed resolution as a label decision, in one click."""
    result = current_aggregation()
    if general not in {g.general for g in label_decisions.open_groups(result)}:
        abort(404, description="No open conflict has this general label; it may be settled.")
    label_decisions.accept(result, current_user.id, [general])
    db.session.commit()
    flash(f"Accepted the proposed resolution of {result.hierarchy.label(general)}.", "info")
    return _after_settling()


@bp.post("/queue/accept-all")
def accept_all():
    """Record every proposal: a class decision equal to its exported label for each
    class whose only trouble is an overlap, then a label decision for each open
    conflict, read from the labels those decisions give."""
    result = current_aggregation()
    overlaps = [e for e in class_entries(result) if e.proposed]
    for entry in overlaps:
        _record_decision(entry.wnid, entry.final, ACCEPTED_AS_EXPORTED)
    if overlaps:
        # A class decision may change its class's chosen label, and so the groups:
        # the label decisions are read from the labels those decisions give, after
        # they are committed (each holds on its own).
        db.session.commit()
        result = current_aggregation()
    rows = label_decisions.accept(result, current_user.id)
    db.session.commit()
    flash(
        f"Accepted {len(rows)} conflict resolution{'s' if len(rows) != 1 else ''} and kept "
        f"{len(overlaps)} class{'es' if len(overlaps) != 1 else ''} under two labels as exported.",
        "info",
    )
    return _after_settling()


@bp.post("/conflicts/<general>/settle")
def settle(general: str):
    """Settle a conflict as the admin chose: each label below kept or merged, the
    rest named by a lemma of the general label."""
    result = current_aggregation()
    group = label_decisions.group_of(result, general)
    specifics = group.specifics if group else ()
    form = settle_form(result.hierarchy, general, specifics, formdata=request.form)
    if not form.validate():
        abort(400, description=f"The label decision was not recorded: {_form_problems(form)}")
    choice = {w: form[f"label_{w}"].data for w in specifics}
    try:
        label_decisions.record(
            result,
            current_user.id,
            general,
            [w for w in specifics if choice[w] == "keep"],
            [w for w in specifics if choice[w] == "merge"],
            form.name.data,
            form.note.data,
        )
    except label_decisions.LabelDecisionError as exc:
        abort(400, description=str(exc))
    db.session.commit()
    flash(f"Settled the conflict below {result.hierarchy.label(general)}.", "info")
    return _after_settling()


def _form_problems(form: FlaskForm) -> str:
    return "; ".join(f"{field}: {', '.join(errors)}" for field, errors in form.errors.items())


# --- settling a class -----------------------------------------------------------------
def labels_merged_by(result: Aggregation, wnid: str, label: str) -> list[str]:
    """The labels that settling `wnid` as `label` would merge into it, deepest last:
    the labels decided for other classes, kept now, below `label` on the class's
    chain. A class decision lands its class exactly on its label, so no kept label
    may stay between; the classes exported as those labels would go with it."""
    hierarchy = result.hierarchy
    others = chosen_by(result)
    settlements = result.resolution.settlements
    return [
        w
        for w in hierarchy.chain_wnids(wnid)
        if label in hierarchy.ancestors(w)
        and any(c != wnid for c in others.get(w, ()))
        and (w not in settlements or settlements[w].kept)
    ]


@dataclass(frozen=True)
class Merge:
    """What a class decision merges: `labels` into `label`, each taking the classes
    `exported` as it, and `decided`, the classes an admin settled as one of them."""

    wnid: str
    label: str
    labels: tuple[str, ...]
    exported: dict[str, tuple[str, ...]]  # merged label -> the other classes exported as it
    decided: tuple[str, ...]


def merge_of(result: Aggregation, wnid: str, label: str) -> Merge:
    hierarchy = result.hierarchy
    labels = labels_merged_by(result, wnid, label)
    exported: dict[str, list[str]] = {w: [] for w in labels}
    for c, final in result.resolution.assignment.items():
        if final in exported and c != wnid:
            exported[final].append(c)
    decided = [
        c for c, d in result.aggregator.decisions_.items() if d.label in labels and c != wnid
    ]
    return Merge(
        wnid,
        label,
        tuple(labels),
        {w: by_name(hierarchy, cs) for w, cs in exported.items()},
        by_name(hierarchy, decided),
    )


def _record_decision(wnid: str, label: str, note: str | None) -> None:
    db.session.add(
        Decision(admin_id=current_user.id, class_wnid=wnid, synset_wnid=label, note=note)
    )


def _record_merge(hierarchy: Hierarchy, merge: Merge, note: str | None) -> None:
    """The label decision that merges `merge.labels` into the decided label, and a
    decision for each class settled as one of them, as the general label: else that
    class's decision would need the label kept and could not hold. Built directly,
    not by `label_decisions.record`: the decided label becomes a conflict's general
    label only with the class decision beside it."""
    why = note or f"with {hierarchy.label(merge.wnid)} settled as {hierarchy.label(merge.label)}"
    value = LabelDecisionValue(
        current_user.username, merge.label, (), merge.labels, datetime.now(UTC), None, why
    )
    problems = label_decision_problems(hierarchy, value)
    if problems:
        listed = "; ".join(f"{field}: {problem}" for field, problem in problems)
        abort(400, description=f"The label decision was not recorded: {listed}")
    db.session.add(
        LabelDecision(
            admin_id=current_user.id,
            general_wnid=merge.label,
            keep=(),
            merge=merge.labels,
            note=why,
        )
    )
    for wnid in merge.decided:
        _record_decision(wnid, merge.label, f"merged into {hierarchy.label(merge.label)}")


@bp.post("/classes/<wnid>/decision")
def decide(wnid: str):
    """Settle a class with an (append-only) decision; where it would merge labels of
    other classes, ask first (the confirmation page posts here again)."""
    require_class(wnid)
    result = current_aggregation()
    hierarchy = result.hierarchy
    form = decision_form(hierarchy, wnid, wnid, formdata=request.form)
    if not form.validate():
        abort(400, description=f"The decision was not recorded: {_form_problems(form)}")
    try:
        note = clean_text(form.note.data, "note")
    except ValueError as exc:
        abort(400, description=f"The decision was not recorded: {exc}")
    label = form.synset.data
    merge = merge_of(result, wnid, label)
    if merge.labels and form.then.data != "merge":
        return render_template(
            "review/confirm.html",
            merge=merge,
            instead=hierarchy.deepest(merge.labels),
            form=form,
            hierarchy=hierarchy,
            names_shown=NAMES_SHOWN,
            back=_back_url(form.back.data, wnid),
        )
    _record_decision(wnid, label, note)
    if merge.labels:
        _record_merge(hierarchy, merge, note)
    db.session.commit()
    merged = f", merging {_names(hierarchy, merge.labels)} into it" if merge.labels else ""
    flash(f"Settled {hierarchy.label(wnid)} ({wnid}) as {hierarchy.label(label)}{merged}.", "info")
    return redirect(_back_url(form.back.data, wnid), code=303)


def _back_url(back: str | None, wnid: str) -> str:
    if back == "class":
        return url_for("review.class_page", wnid=wnid)
    return url_for("review.queue")


def _names(hierarchy: Hierarchy, wnids: Iterable[str]) -> str:
    return ", ".join(hierarchy.label(w) for w in wnids)


# --- a class's page -------------------------------------------------------------------
@dataclass(frozen=True)
class VoteRow:
    annotator: str
    label: str
    time: datetime
    comment: str | None
    counted: bool  # the annotator's latest vote for the class


def class_votes(wnid: str) -> list[VoteRow]:
    """Every vote for the class, oldest first; the latest of each annotator counts
    (of two at the same time, the later row, as `clustering.votes.latest_votes`)."""
    rows = db.session.execute(
        select(Vote, User.username)
        .join(User, Vote.annotator_id == User.id)
        .where(Vote.class_wnid == wnid)
        .order_by(Vote.created_at, Vote.id)
    ).all()
    latest = {name: vote.id for vote, name in rows}
    return [
        VoteRow(name, vote.synset_wnid, vote.created_at, vote.comment, latest[name] == vote.id)
        for vote, name in rows
    ]


def class_decisions(wnid: str) -> list[Decision]:
    """The class's decisions, oldest first (the latest counts)."""
    return db.session.scalars(
        select(Decision)
        .where(Decision.class_wnid == wnid)
        .order_by(Decision.created_at, Decision.id)
    ).all()


def label_decisions_on(result: Aggregation, wnid: str) -> list[LabelDecisionValue]:
    """The label decisions that name a synset of the class's chain: those settling
    its label, a label it lies under, or one that would take it; oldest first, as the
    aggregation read them."""
    chain = set(result.hierarchy.chain_wnids(wnid))
    return [
        d
        for d in result.aggregator.label_decisions_
        if chain.intersection((d.general, *d.keep, *d.merge))
    ]


def class_status(result: Aggregation, wnid: str) -> str:
    """ "settled", "voted: unsure, split", "undecided", ... with the queue's reasons."""
    outcome = result.outcomes[wnid]
    status = "settled" if outcome.status == "decided" else outcome.status
    entry = derived(result, "entry_of_class", _entry_of_class).get(wnid)
    return f"{status}: {', '.join(entry.reasons)}" if entry else status


def _entry_of_class(result: Aggregation) -> dict[str, QueueEntry]:
    """Class -> its first entry in the disagreement queue."""
    entries: dict[str, QueueEntry] = {}
    for entry in class_entries(result):
        entries.setdefault(entry.wnid, entry)
    return entries


def class_groups(result: Aggregation, wnid: str) -> list[ConflictGroup]:
    """The conflict groups whose labels lie on the class's chain, in the resolution's
    order; found through an index of the groups by label, kept per aggregation, rather
    than by testing every group on each class page."""
    by_label = derived(result, "groups_by_label", _groups_by_label)
    found = {i for label in result.hierarchy.chain_wnids(wnid) for i in by_label.get(label, ())}
    return [result.resolution.groups[i] for i in sorted(found)]


def _groups_by_label(result: Aggregation) -> dict[str, list[int]]:
    """Label -> the positions of the conflict groups it is in (general or specific)."""
    by_label: dict[str, list[int]] = {}
    for i, group in enumerate(result.resolution.groups):
        for label in {group.general, *group.specifics}:
            by_label.setdefault(label, []).append(i)
    return by_label


@bp.get("/classes/<wnid>")
def class_page(wnid: str):
    """One class: its pictures, every vote, the decisions on it, its exported
    label and why, and a form to settle it."""
    require_class(wnid)
    result = current_aggregation(may_lag=True)
    hierarchy = result.hierarchy
    final = result.resolution.assignment[wnid]
    return render_template(
        "review/class.html",
        wnid=wnid,
        synset=hierarchy.synsets[wnid],
        outcome=result.outcomes[wnid],
        status=class_status(result, wnid),
        closing=closing_state(result.outcomes[wnid], survey_settings().closing),
        rule=survey_settings().closing,
        pictures=images.image_urls(wnid, "small", CLASS_PICTURES),
        image_warning=images.source_warning(),
        votes=class_votes(wnid),
        decisions=class_decisions(wnid),
        label_decisions=label_decisions_on(result, wnid),
        groups=class_groups(result, wnid),
        queue_pages=queue_pages(result),
        final=final,
        names=_label_names(result),
        reason=result.reasons.get(wnid),
        form=decision_form(hierarchy, wnid, final, back="class"),
        hierarchy=hierarchy,
        broken=result.resolution.broken,
    )


# --- the summary, the class list, the overview ----------------------------------------
@bp.get("/")
def index():
    """Progress and agreement: the classes' outcomes, each annotator's votes, and the
    conflict groups."""
    result = current_aggregation(may_lag=True)
    statuses = derived(result, "statuses", lambda r: Counter(o.status for o in r.outcomes.values()))
    groups = result.resolution.groups
    shown, page, pages = _page_of(_all_conflicts(result))
    return render_template(
        "review/index.html",
        result=result,
        agreement=result.agreement,
        # Per kept aggregation, not per request: each reads every vote (65,000 at 21k).
        classes_by_annotator=derived(
            result,
            "classes_by_annotator",
            lambda r: Counter(v.annotator for v in r.aggregator.counted_votes_),
        ),
        last_vote=derived(result, "last_vote", lambda r: latest_times(r, "annotator")),
        skills=_team_skills(result),
        statuses=statuses,
        total=len(result.outcomes),
        queue_length=len(disagreement_queue(result)),
        rows=shown,
        n_groups=len(groups),
        n_open=derived(
            result, "open_groups", lambda r: sum(not g.settled for g in r.resolution.groups)
        ),
        queue_pages=queue_pages(result),
        page=page,
        pages=pages,
        hierarchy=result.hierarchy,
        policies=POLICIES,
        default_policy=DEFAULT_POLICY,
        min_votes=survey_settings().closing.min_votes,
        names_shown=NAMES_SHOWN,
        broken=result.resolution.broken,
    )


def _team_skills(result: Aggregation) -> TeamSkills:
    """Each annotator's reliability and shares of votes equal to the suggestion when it
    was shown and when hidden: the aggregation's own (its confidence weighting), else
    computed the same way."""
    skills = getattr(result.aggregator, "skills_", None)
    if isinstance(skills, TeamSkills):
        return skills
    return team_skills(result.aggregator.counted_votes_, class_states.suggestions())


def _class_filter(result: Aggregation, status: str, annotator: str) -> list[str]:
    """The classes under the filters, by name (case-insensitive)."""
    if not status and not annotator:  # every class: sorted once per kept aggregation
        return derived(result, "classes_by_name", lambda r: list(by_name(r.hierarchy, r.outcomes)))
    wnids: Iterable[str] = result.outcomes
    if status:
        reasons = {e.wnid: e.reasons for e in class_entries(result)}
        in_conflict = {
            w for g in label_decisions.open_groups(result) for w in (g.general, *g.specifics)
        }
        test = {
            "voted": lambda o: o.status == "voted",
            "undecided": lambda o: o.status == "undecided",
            "settled": lambda o: o.status == "decided",
            "unsure": lambda o: "unsure" in reasons.get(o.wnid, ()),
            "split": lambda o: "split" in reasons.get(o.wnid, ()),
            "conflict": lambda o: o.status != "undecided" and o.label in in_conflict,
            "overlap": lambda o: "overlap" in reasons.get(o.wnid, ()),
            "comment": lambda o: bool(o.comments),
        }[status]
        wnids = [w for w in wnids if test(result.outcomes[w])]
    if annotator:
        voted_by = {v.wnid for v in result.aggregator.counted_votes_ if v.annotator == annotator}
        wnids = [w for w in wnids if w in voted_by]
    return list(by_name(result.hierarchy, wnids))


@bp.get("/classes")
def classes():
    """Every class with its votes and outcome, filtered by ?status= and ?annotator=."""
    status = request.args.get("status", "")
    annotator = request.args.get("annotator", "")
    if status and status not in FILTERS:
        abort(400, description=f"status must be one of: {', '.join(FILTERS)}")
    result = current_aggregation(may_lag=True)
    annotators = derived(
        result,
        "annotators",
        lambda r: sorted({v.annotator for v in r.aggregator.counted_votes_}, key=str.casefold),
    )
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


def _settled_by(settlement: Settlement) -> str:
    """Who settled a label, briefly: "the proposal", "boss's label decision"."""
    if settlement.by == "policy":
        return "the proposal"
    return f"{settlement.decision.admin}'s {settlement.by}"


def labels_below_others(result: Aggregation) -> dict[str, tuple[str, ...]]:
    """Each "other" label -> the labels below it (by name): what its rest is beside."""
    return derived(result, "below_others", _labels_below_others)


def _labels_below_others(result: Aggregation) -> dict[str, tuple[str, ...]]:
    hierarchy = result.hierarchy
    others = result.resolution.other_labels
    below: dict[str, list[str]] = {w: [] for w in others}
    for w in set(result.resolution.assignment.values()):
        for general in hierarchy.ancestors(w) & others:
            below[general].append(w)
    return {w: by_name(hierarchy, ws) for w, ws in below.items()}


def label_notes(result: Aggregation, label: str, members: Sequence[str]) -> list[str]:
    """Where a label is not simply its members' own choice, briefly (a card is small):
    the rest of a general label, labels merged into it, classes moved down into it,
    classes settled by an admin or still short of votes."""
    hierarchy = result.hierarchy
    resolution = result.resolution
    outcomes = result.outcomes
    notes = []
    if label in resolution.other_labels:
        below = labels_below_others(result)[label]
        more = f" and {len(below) - SAID_IN_FULL} more" if len(below) > SAID_IN_FULL else ""
        notes.append(
            f"the rest of {hierarchy.label(label)} beside "
            f"{_names(hierarchy, below[:SAID_IN_FULL])}{more}"
        )
    chose = {
        c: outcomes[c].label
        for c in members
        if outcomes[c].status == "voted" and outcomes[c].label != label
    }
    merged = by_name(hierarchy, {w for w in chose.values() if hierarchy.is_ancestor(label, w)})
    by_whom: dict[str, list[str]] = {}
    for w in merged:
        by_whom.setdefault(_settled_by(resolution.settlements[w]), []).append(w)
    for who, labels in by_whom.items():
        notes.append(f"merged from {_names(hierarchy, labels)} by {who}")
    above = [c for c, w in chose.items() if hierarchy.is_ancestor(w, label)]
    if above:  # only a kept label below another takes classes down into it
        came = _names(hierarchy, by_name(hierarchy, {chose[c] for c in above}))
        notes.append(
            f"{len(above)} moved down from {came} by {_settled_by(resolution.settlements[label])}"
        )
    decided = sum(outcomes[c].status == "decided" for c in members)
    if decided:
        notes.append(f"{decided} settled by an admin")
    if any(outcomes[c].status == "undecided" for c in members):
        notes.append("too few votes yet")
    return notes


def _largest_first(result: Aggregation) -> list:
    return sorted(result.cil.labels, key=lambda lab: (-len(lab.members), lab.name.casefold()))


def _card(result: Aggregation, position: int, label) -> tuple:
    """What the card of the label at `position` (largest first) shows of the
    aggregation, kept with it: its first member with pictures (or None), the names
    shown and the notes. Walking a large label's members for them took most of the
    page's time at ImageNet-21k's size (a label of hundreds of classes)."""
    cards = derived(result, "label_cards", lambda _result: {})
    if position not in cards:
        hierarchy = result.hierarchy
        cards[position] = (
            next(filter(images.first_thumbnail_url, label.members), None),
            [(w, hierarchy.label(w)) for w in label.members[:NAMES_SHOWN]],
            label_notes(result, label.wnid, label.members),
        )
    return cards[position]


@bp.get("/overview")
def overview():
    """The current labels, largest first, each with a picture, member names and
    where it is not its members' own choice."""
    result = current_aggregation(may_lag=True)
    labels = derived(result, "labels_largest_first", _largest_first)
    shown, page, pages = _page_of(range(len(labels)))
    cards = []
    for position in shown:
        pictured, names, notes = _card(result, position, labels[position])
        picture = images.first_thumbnail_url(pictured) if pictured else None
        cards.append((labels[position], picture, names, notes))
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
        return Response(
            votes_to_jsonl(database_votes()),
            mimetype=DOWNLOADS[name],
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    conflicts = request.args.get("conflicts", DEFAULT_POLICY)
    min_votes = request.args.get("min_votes", survey_settings().closing.min_votes, type=int)
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
    # Kept per aggregation: serialising ImageNet-21k's CIL took most of a download's
    # time, and the text only changes with the aggregation.
    flat = name == "cil-flat.json"
    download = derived(
        result,
        ("cil_download", flat),
        lambda r: PreparedDownload.of_text(dumps_cil(r.cil, flat=flat)),
    )
    return send(download, DOWNLOADS[name], name)
