"""The annotator's pages: their votes and progress, the queue, and the
annotate page with its vote and skip forms."""

from __future__ import annotations

import uuid

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from survey_app import class_states, images, model_confusions, work_queue
from survey_app.annotate_data import class_view, display_names
from survey_app.annotate_fragments import fragments
from survey_app.annotate_reads import page_reads
from survey_app.database import hierarchy_from_db, read_without_transaction, require_class
from survey_app.forms import VoteForm, add_error
from survey_app.pace import annotator_pace, duration
from survey_app.paging import page_of
from survey_app.survey_settings import survey_settings
from survey_app.votes import (
    COMMENT_MAX,
    LatestVotes,
    TooManyVotes,
    VoteError,
    class_after_vote,
    record_skip,
    record_vote,
)

bp = Blueprint("annotate", __name__)


@bp.before_request
def read_only_pages() -> None:
    """Pages (GET) only read: outside a transaction, from the account's lookup on."""
    if request.method == "GET":
        read_without_transaction()


@bp.before_request
@login_required
def require_login() -> None:
    """Every page here is an annotator's own."""


def _annotate_url(wnid: str | None) -> str:
    return url_for("annotate.annotate", wnid=wnid) if wnid else url_for("annotate.done")


VOTES_PER_PAGE = 50


@bp.get("/")
def home():
    """The annotator's home: the votes that count, their pace, and the next class."""
    votes = LatestVotes(current_user.id)
    shown, page, pages = page_of(votes, VOTES_PER_PAGE)
    pace = annotator_pace(len(hierarchy_from_db().classes), current_user.id)
    return render_template(
        "home.html",
        total=len(votes),
        pace=pace,
        duration=duration,
        votes=shown,
        page=page,
        pages=pages,
        names=display_names(),
        next_wnid=work_queue.next_class(current_user.id),
    )


@bp.get("/guidelines")
def guidelines():
    """The admins' guidelines for annotators."""
    return render_template("guidelines.html", guidelines=survey_settings().guidelines)


@bp.get("/next")
def next_class():
    """To the class the queue gives this annotator next, held for them a while, or to
    /done."""
    return redirect(_annotate_url(work_queue.lead_to_next(current_user.id)))


@bp.get("/done")
def done():
    """Said when no class is left for this annotator."""
    if work_queue.next_class(current_user.id) is not None:
        return redirect(url_for("annotate.next_class"))
    return render_template("done.html")


def _page(wnid: str, form: VoteForm, status: int = 200):
    source = images.current_source()
    # Where Enter leads is asked for its pictures only: without them, nothing to prefetch.
    reads = page_reads(current_user.id, wnid, following=source is not None)
    view = class_view(wnid, reads.my_vote)
    settings = reads.settings
    # Not shown in "hidden" mode, nor before anyone else has voted on the class (the
    # vote path records the same, to weigh a vote that only accepted it).
    shown = (
        class_states.shown_suggestion(wnid, current_user.id, settings, reads.others_voted)
        is not None
    )
    if not form.is_submitted():
        # The annotator's vote; else the suggestion where the admins chose to pre-select it.
        form.synset.data = (
            view.my_vote.synset_wnid
            if view.my_vote
            else view.suggestion
            if settings.preselect and shown
            else None
        )
        form.submission_id.data = uuid.uuid4().hex
    previous, annotators, following = reads.previous, reads.annotators, reads.following
    member_sets, chain = fragments(view, form.synset.data, shown)
    return render_template(
        "annotate.html",
        view=view,
        form=form,
        member_sets=member_sets,
        chain=chain,
        pictures_on=source is not None,
        # 32 or 64 px pictures shown enlarged: crisp pixels rather than a blur
        pixelated=isinstance(source, images.DownsampledSource),
        comment_max=COMMENT_MAX,
        annotators=annotators,
        guidelines=settings.guidelines,
        # The pictures of the class Enter will most likely open, for the browser to
        # fetch while the annotator looks at this one. Not the page itself: it shows
        # the vote just cast and the progress after it, so it cannot be fetched before.
        prefetch=images.image_urls(following) if following else [],
        confusions=model_confusions.top_confusions(view.wnid),
        previous_url=url_for("annotate.annotate", wnid=previous) if previous else None,
    ), status


@bp.get("/annotate/<wnid>")
def annotate(wnid: str):
    """A class's pictures and candidate chain, with the vote form."""
    require_class(wnid)
    return _page(wnid, VoteForm())


@bp.post("/annotate/<wnid>")
def vote(wnid: str):
    """Store the vote and open the next class; the full page is built only to
    show an error."""
    require_class(wnid)
    form = VoteForm()
    form.synset.choices = hierarchy_from_db().chain_wnids(wnid)
    status = 400
    if form.validate_on_submit():
        try:
            _, added = record_vote(
                current_user,
                wnid,
                form.synset.data,
                form.comment.data,
                form.submission_id.data or None,
                leads=True,
            )
        except VoteError as exc:
            add_error(form, exc)
            status = 429 if isinstance(exc, TooManyVotes) else 400
        else:
            if added:
                flash(
                    f"Voted “{display_names()[form.synset.data]}” for {display_names()[wnid]}.",
                    "info",
                )
            following = class_after_vote(current_user.id)
            return redirect(_annotate_url(following), code=303)
    return _page(wnid, form, status)


@bp.post("/annotate/<wnid>/skip")
def skip(wnid: str):
    """Put the class at the end of this annotator's queue."""
    record_skip(current_user, wnid)
    return redirect(url_for("annotate.next_class"), code=303)
