"""The JSON API under /api/: what the pages show, for scripts and other
front ends (documented in README.md, section "The JSON API"). It uses the same
login session as the pages; a POST needs the session's CSRF token in an
X-CSRFToken header. An unknown class is answered 404 by errors.py."""

from __future__ import annotations

from flask import Blueprint, abort, jsonify, request, url_for
from flask_login import current_user, login_required
from flask_wtf.csrf import generate_csrf

from survey_app import work_queue
from survey_app.class_view import build_class_view, vote_dict
from survey_app.votes import TooManyVotes, VoteError, latest_votes, record_vote, vote_history

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.before_request
@login_required
def require_login() -> None:
    """Every answer is about the logged-in annotator."""


@bp.get("/me")
def me():
    return jsonify(username=current_user.username, role=current_user.role,
                   csrf_token=generate_csrf())


@bp.get("/progress")
def progress():
    return jsonify(work_queue.progress(current_user.id).as_dict())


@bp.get("/next")
def next_class():
    wnid = work_queue.next_class(current_user.id)
    return jsonify({"class": wnid,
                    "url": url_for("api.class_detail", wnid=wnid) if wnid else None})


@bp.get("/classes/<wnid>")
def class_detail(wnid: str):
    return jsonify(build_class_view(wnid, current_user.id).as_dict())


@bp.get("/votes")
def votes():
    chosen = vote_history if request.args.get("history") == "1" else latest_votes
    return jsonify(votes=[vote_dict(v) for v in chosen(current_user.id)])


def _text(body: dict, key: str, required: bool = True) -> str | None:
    value = body.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        abort(400, description=f"{key!r} must be a string")
    return value


@bp.post("/votes")
def cast_vote():
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, description="send a JSON object: {\"class\": WNID, \"synset\": WNID, "
                               "\"comment\": TEXT (optional), \"submission_id\": ID (optional)}")
    class_wnid, synset_wnid = _text(body, "class"), _text(body, "synset")
    try:
        vote, added = record_vote(current_user, class_wnid, synset_wnid,
                                  _text(body, "comment", required=False),
                                  _text(body, "submission_id", required=False))
    except TooManyVotes as exc:
        abort(429, description=str(exc))
    except VoteError as exc:
        abort(400, description=str(exc))
    return jsonify(vote=vote_dict(vote), created=added,
                   next=work_queue.next_class(current_user.id)), 201 if added else 200
