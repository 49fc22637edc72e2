"""The JSON API under /api/: what the pages show, for scripts and other
front ends (documented in README.md, section "The JSON API"). It uses the same
login session as the pages; a POST needs the session's CSRF token in an
X-CSRFToken header. An unknown class is answered 404 by error_pages.py. The
conflicts and label decisions are for admins, who settle them through
`survey_app.label_decisions` as the review pages do."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from flask import Blueprint, abort, jsonify, request, url_for
from flask_login import current_user, login_required
from flask_wtf.csrf import generate_csrf
from sqlalchemy import Row, select
from sqlalchemy.orm import joinedload

from clustering.aggregate import Aggregation
from clustering.conflicts import ConflictGroup
from survey_app import class_states, label_decisions, work_queue
from survey_app.aggregation import current_aggregation
from survey_app.annotate_data import ClassView, build_class_view, display_names
from survey_app.auth import admin_required
from survey_app.extensions import db
from survey_app.models import LabelDecision, Vote
from survey_app.survey_settings import survey_settings
from survey_app.votes import (
    TooManyVotes,
    VoteError,
    class_after_vote,
    latest_votes,
    record_vote,
    vote_history,
)

bp = Blueprint("api", __name__)


def _time(moment: datetime) -> str:
    """A stored time (naive UTC) as the API answers it."""
    return moment.isoformat(timespec="seconds") + "Z"


def vote_json(vote: Vote | Row) -> dict:
    """A vote as the API answers it, its label with the name the pages show."""
    return {
        "id": vote.id,
        "class": vote.class_wnid,
        "synset": vote.synset_wnid,
        "synset_name": display_names()[vote.synset_wnid],
        "comment": vote.comment,
        "created_at": _time(vote.created_at),
    }


def class_json(view: ClassView, shown: bool = True) -> dict:
    """What the annotate page shows of a class, with the annotator's vote; without the
    suggestion where it is not `shown` (hidden, or the class's first vote)."""
    return {
        "wnid": view.wnid,
        "index": view.index,
        "name": view.name,
        "gloss": view.gloss,
        "lemmas": list(view.lemmas),
        "n_paths": view.n_paths,
        "images": list(view.images),
        "suggestion": view.suggestion if shown else None,
        "selected": view.selected if shown or view.my_vote else None,
        "my_vote": vote_json(view.my_vote) if view.my_vote else None,
        "chain": [
            {
                "wnid": c.wnid,
                "name": c.name,
                "lemmas": list(c.lemmas),
                "gloss": c.gloss,
                "depth": c.depth,
                "paths": list(c.paths),
                "count": c.count,
                "count_text": c.count_text,
                "count_lemma": c.count_lemma,
                "provider": c.provider or None,
                "original": c.original,
                "suggested": c.suggested and shown,
                "other_classes": c.merged,
                "members": [{"wnid": m.wnid, "name": m.name, "image": m.image} for m in c.members],
            }
            for c in view.candidates
        ],
    }


@bp.before_request
@login_required
def require_login() -> None:
    """Every answer is about the logged-in annotator."""


@bp.get("/me")
def me():
    """Who is logged in, and the CSRF token their POSTs must send."""
    return jsonify(
        username=current_user.username, role=current_user.role, csrf_token=generate_csrf()
    )


@bp.get("/progress")
def progress():
    """The annotator's classes voted on, and the team's complete classes."""
    return jsonify(work_queue.progress(current_user.id).as_dict())


@bp.get("/next")
def next_class():
    """The class the annotator should vote on next (null when none is left), held for
    them a while (work_queue.lead_to_next)."""
    wnid = work_queue.lead_to_next(current_user.id)
    return jsonify({"class": wnid, "url": url_for("api.class_detail", wnid=wnid) if wnid else None})


@bp.get("/classes/<wnid>")
def class_detail(wnid: str):
    """A class with its candidate chain, counts, suggestion and the annotator's vote."""
    view = build_class_view(wnid, current_user.id)
    shown = class_states.shown_suggestion(wnid, current_user.id, survey_settings())
    return jsonify(class_json(view, shown is not None))


@bp.get("/votes")
def votes():
    """The annotator's votes that count (newest first), or every vote with ?history=1."""
    chosen = vote_history if request.args.get("history") == "1" else latest_votes
    return jsonify(votes=[vote_json(v) for v in chosen(current_user.id)])


def _text(body: dict, key: str, required: bool = True) -> str | None:
    value = body.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        abort(400, description=f"{key!r} must be a string")
    return value


@bp.post("/votes")
def cast_vote():
    """Store a vote: 201 when a row was added, 200 for a resent or unchanged one."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(
            400,
            description='send a JSON object: {"class": WNID, "synset": WNID, '
            '"comment": TEXT (optional), "submission_id": ID (optional)}',
        )
    class_wnid, synset_wnid = _text(body, "class"), _text(body, "synset")
    try:
        vote, added = record_vote(
            current_user,
            class_wnid,
            synset_wnid,
            _text(body, "comment", required=False),
            _text(body, "submission_id", required=False),
            leads=True,
        )
    except TooManyVotes as exc:
        abort(429, description=str(exc))
    except VoteError as exc:
        abort(400, description=str(exc))
    return jsonify(
        vote=vote_json(vote), created=added, next=class_after_vote(current_user.id)
    ), 201 if added else 200


# --- conflicts and label decisions, for admins -----------------------------------------
def conflict_json(result: Aggregation, group: ConflictGroup) -> dict:
    """A conflict group: its general label, and how each label below it is settled now."""
    names = display_names()
    chosen_by = defaultdict(list)  # label -> the classes whose chosen label it is
    for class_wnid, label in sorted(result.aggregator.labels_.items()):
        chosen_by[label].append(class_wnid)
    settlements = result.resolution.settlements
    return {
        "general": {"wnid": group.general, "name": names[group.general]},
        "settled": group.settled,
        "labels": [
            {
                "wnid": wnid,
                "name": names[wnid],
                "classes": chosen_by[wnid],
                "kept": settlements[wnid].kept,
                "by": settlements[wnid].by,
                "kept_votes": settlements[wnid].kept_votes,
                "merged_votes": settlements[wnid].merged_votes,
            }
            for wnid in group.specifics
        ],
    }


def label_decision_json(row: LabelDecision) -> dict:
    return {
        "id": row.id,
        "admin": row.admin.username,
        "general": row.general_wnid,
        "keep": row.keep,
        "merge": row.merge,
        "name": row.name,
        "note": row.note,
        "created_at": _time(row.created_at),
    }


def _refuse(problems: dict[str, str]):
    """400 naming each wrong field; the message says what to send instead."""
    message = "; ".join(f"{field}: {problem}" for field, problem in problems.items())
    return jsonify(error=f"nothing was recorded: {message}", status=400, problems=problems), 400


def _json_object(shape: str) -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, description=f"send a JSON object: {shape}")
    return body


def _type_problems(body: dict) -> dict[str, str]:
    """field -> what is wrong with its type, for a label decision's body."""
    problems = {}
    if not isinstance(body.get("general"), str):
        problems["general"] = "must be a string: the wnid of a conflict's general label"
    for key in ("keep", "merge"):
        value = body.get(key, [])
        if not isinstance(value, list) or not all(isinstance(w, str) for w in value):
            problems[key] = "must be a list of wnids (strings)"
    for key in ("name", "note"):
        if body.get(key) is not None and not isinstance(body[key], str):
            problems[key] = "must be a string when given"
    unknown = sorted(set(body) - {"general", "keep", "merge", "name", "note"})
    for key in unknown:
        problems[key] = "is not a field of a label decision"
    return problems


@bp.get("/conflicts")
@admin_required
def conflicts():
    """Every conflict group of the current labels, with each label's settlement."""
    result = current_aggregation()
    return jsonify(conflicts=[conflict_json(result, g) for g in result.resolution.groups])


@bp.get("/label-decisions")
@admin_required
def list_label_decisions():
    """Every label decision, oldest first."""
    rows = db.session.scalars(
        select(LabelDecision).options(joinedload(LabelDecision.admin)).order_by(LabelDecision.id)
    )
    return jsonify(label_decisions=[label_decision_json(row) for row in rows])


@bp.post("/label-decisions")
@admin_required
def record_label_decision():
    """Settle a conflict group: 201 with the stored decision; 400 naming each wrong field."""
    body = _json_object(
        '{"general": WNID, "keep": [WNID, ...], "merge": [WNID, ...], '
        '"name": LEMMA (optional), "note": TEXT (optional)}'
    )
    problems = _type_problems(body)
    if problems:
        return _refuse(problems)
    try:
        row = label_decisions.record(
            current_aggregation(),
            current_user.id,
            body["general"],
            body.get("keep", []),
            body.get("merge", []),
            body.get("name"),
            body.get("note"),
        )
    except label_decisions.LabelDecisionError as exc:
        return _refuse(exc.problems)
    db.session.commit()
    return jsonify(label_decision=label_decision_json(row)), 201


@bp.post("/conflicts/accept")
@admin_required
def accept_conflicts():
    """Record the proposed resolution of one open conflict group, or of all of them."""
    body = _json_object('{"general": WNID} or {"all": true}')
    result = current_aggregation()
    if set(body) == {"all"} and body["all"] is True:
        rows = label_decisions.accept(result, current_user.id)
    elif set(body) == {"general"} and isinstance(body["general"], str):
        if body["general"] not in {g.general for g in label_decisions.open_groups(result)}:
            return _refuse(
                {
                    "general": f"{body['general']!r} is not the general label of an open "
                    'conflict; GET /api/conflicts lists them, with "settled": false'
                }
            )
        rows = label_decisions.accept(result, current_user.id, [body["general"]])
    else:
        abort(400, description='send {"general": WNID} or {"all": true}')
    db.session.commit()
    return jsonify(label_decisions=[label_decision_json(row) for row in rows]), 201 if rows else 200
