"""The JSON API under /api/: what the pages show, for scripts and other
front ends (documented in README.md, section "The JSON API"). It uses the same
login session as the pages; a POST needs the session's CSRF token in an
X-CSRFToken header. An unknown class is answered 404 by error_pages.py."""

from __future__ import annotations

from flask import Blueprint, abort, jsonify, request, url_for
from flask_login import current_user, login_required
from flask_wtf.csrf import generate_csrf
from sqlalchemy import Row

from survey_app import work_queue
from survey_app.annotate_data import ClassView, build_class_view, display_names
from survey_app.models import Vote
from survey_app.votes import TooManyVotes, VoteError, latest_votes, record_vote, vote_history

bp = Blueprint("api", __name__)


def vote_json(vote: Vote | Row) -> dict:
    """A vote as the API answers it, its label with the name the pages show."""
    return {
        "id": vote.id,
        "class": vote.class_wnid,
        "synset": vote.synset_wnid,
        "synset_name": display_names()[vote.synset_wnid],
        "comment": vote.comment,
        "created_at": vote.created_at.isoformat(timespec="seconds") + "Z",
    }


def class_json(view: ClassView) -> dict:
    """What the annotate page shows of a class, with the annotator's vote."""
    return {
        "wnid": view.wnid,
        "index": view.index,
        "name": view.name,
        "gloss": view.gloss,
        "lemmas": list(view.lemmas),
        "n_paths": view.n_paths,
        "images": list(view.images),
        "suggestion": view.suggestion,
        "selected": view.selected,
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
                "suggested": c.suggested,
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
    """The class the annotator should vote on next (null when none is left)."""
    wnid = work_queue.next_class(current_user.id)
    return jsonify({"class": wnid, "url": url_for("api.class_detail", wnid=wnid) if wnid else None})


@bp.get("/classes/<wnid>")
def class_detail(wnid: str):
    """A class with its candidate chain, counts, suggestion and the annotator's vote."""
    return jsonify(class_json(build_class_view(wnid, current_user.id)))


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
        )
    except TooManyVotes as exc:
        abort(429, description=str(exc))
    except VoteError as exc:
        abort(400, description=str(exc))
    return jsonify(
        vote=vote_json(vote), created=added, next=work_queue.next_class(current_user.id)
    ), 201 if added else 200
