"""The admin page: annotators and their progress, invitations, new accounts,
and a warning when the pictures cannot be shown."""

from __future__ import annotations

from collections import Counter

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from survey_app import accounts, class_states, images
from survey_app.auth import admin_required
from survey_app.database import hierarchy_from_db
from survey_app.extensions import db
from survey_app.forms import InvitationForm, NewUserForm, SurveySettingsForm, add_error
from survey_app.models import Invitation, User
from survey_app.pace import DAYS_SHOWN, duration, every_pace
from survey_app.survey_settings import (
    check_queue_settings,
    clean_guidelines,
    save_queue_settings,
    save_survey_settings,
    survey_settings,
)

bp = Blueprint("admin", __name__)
ACCOUNT_ERROR = "account-error"  # a flashed error of the "Create an account" form


@bp.before_request
@admin_required
def require_admin() -> None:
    """Every page and action here is for admins only."""


def _settings_form() -> SurveySettingsForm:
    settings = survey_settings()
    return SurveySettingsForm(
        formdata=None,
        prefix="survey",
        guidelines=settings.guidelines,
        suggestion_mode=settings.suggestion_mode,
        min_votes=settings.closing.min_votes,
        max_votes=settings.closing.max_votes,
        target=settings.closing.target,
        batch=settings.batch,
        hide_first=settings.hide_first,
    )


def _page(
    invitation_form: InvitationForm | None = None,
    settings_form: SurveySettingsForm | None = None,
    status: int = 200,
):
    pace_of = every_pace(len(hierarchy_from_db().classes))
    users = db.session.scalars(select(User).order_by(User.username)).all()
    invitations = db.session.scalars(
        select(Invitation).order_by(Invitation.created_at.desc()).limit(50)
    ).all()
    usernames = {u.id: u.username for u in users}
    return render_template(
        "admin.html",
        users=users,
        invitations=invitations,
        usernames=usernames,
        status_of=accounts.invitation_status,
        invitation_form=invitation_form or InvitationForm(formdata=None, prefix="invite"),
        user_form=NewUserForm(formdata=None, prefix="user"),
        account_error=ACCOUNT_ERROR,
        settings_form=settings_form or _settings_form(),
        roles=Counter(u.role for u in users),
        pace_of=pace_of,
        duration=duration,
        days_shown=DAYS_SHOWN,
        image_warning=images.source_warning(),
    ), status


@bp.get("/")
def index():
    """Accounts, invitations, the survey's settings and the image source's state."""
    return _page()


@bp.post("/invitations")
def create_invitation():
    """Create a one-time invitation link for the chosen role, shown once."""
    form = InvitationForm(prefix="invite")
    if not form.validate():
        return _page(invitation_form=form, status=400)
    token = accounts.create_invitation(form.role.data, created_by=current_user)
    # The link alone: base.html shows it as a link with a copy button.
    flash(url_for("auth.accept_invitation", token=token, _external=True), "invitation")
    return redirect(url_for("admin.index"), code=303)


@bp.post("/invitations/<int:invitation_id>/revoke")
def revoke_invitation(invitation_id: int):
    """Make an unused invitation link invalid."""
    accounts.revoke_invitation(db.get_or_404(Invitation, invitation_id))
    flash("Invitation revoked.", "info")
    return redirect(url_for("admin.index"), code=303)


@bp.post("/users")
def create_user():
    """Create an account directly, with a password and a role."""
    form = NewUserForm(prefix="user")
    if form.validate():
        try:
            user = accounts.create_user(form.username.data, form.password.data, form.role.data)
        except accounts.AccountError as exc:
            add_error(form, exc)
        else:
            db.session.commit()
            flash(f"Account {user.username} ({user.role}) created.", "info")
            return redirect(url_for("admin.index"), code=303)
    # Redirected, not rendered, so that reloading the page posts nothing again;
    # the errors are shown beside the form (admin.html), the passwords not kept.
    for error in form.form_errors:
        flash(error, ACCOUNT_ERROR)
    for field in form:
        for error in field.errors if field.type != "CSRFTokenField" else ():
            flash(f"{field.label.text}: {error}", ACCOUNT_ERROR)
    return redirect(url_for("admin.index", _anchor="new-account"), code=303)


@bp.post("/settings")
def save_settings():
    """Save the guidelines, how the suggestion is shown and when the queue closes a
    class; a change of the closing rule reconsiders every voted class at once."""
    form = SurveySettingsForm(prefix="survey")
    if not form.validate():
        return _page(settings_form=form, status=400)
    queue = {
        "MIN_VOTES": form.min_votes.data,
        "MAX_VOTES": form.max_votes.data,
        "TARGET_CONFIDENCE": float(form.target.data),
        "QUEUE_BATCH": form.batch.data,
        "HIDE_FIRST_SUGGESTION": form.hide_first.data,
    }
    try:
        check_queue_settings(queue)
    except ValueError as exc:
        form.target.errors = [*form.target.errors, str(exc)]
        return _page(settings_form=form, status=400)
    try:
        guidelines = clean_guidelines(form.guidelines.data)
    except ValueError as exc:
        add_error(form, exc)
        return _page(settings_form=form, status=400)
    before = survey_settings().closing
    save_survey_settings(guidelines, form.suggestion_mode.data)
    save_queue_settings(queue)
    after = survey_settings().closing
    if after != before:
        reconsidered = class_states.refresh_all(after)
        db.session.commit()
        flash(f"Survey settings saved; {reconsidered} voted classes reconsidered.", "info")
        return redirect(url_for("admin.index", _anchor="settings"), code=303)
    flash("Survey settings saved.", "info")
    return redirect(url_for("admin.index", _anchor="settings"), code=303)


@bp.post("/users/<int:user_id>/active")
def set_active(user_id: int):
    """Deactivate an account (ending its sessions) or activate it again."""
    user = db.get_or_404(User, user_id)
    wanted = request.form.get("active")
    if wanted not in {"0", "1"}:
        abort(400, description="active must be 0 or 1")
    if user.id == current_user.id:
        abort(400, description="You cannot deactivate your own account.")
    user.active = wanted == "1"
    if not user.active:
        accounts.end_sessions(user.id)
    db.session.commit()
    flash(f"{user.username} is {'active' if user.active else 'deactivated'}.", "info")
    return redirect(url_for("admin.index"), code=303)


@bp.post("/users/<int:user_id>/sessions")
def end_sessions(user_id: int):
    """Log the account out everywhere, e.g. when a password may have leaked."""
    user = db.get_or_404(User, user_id)
    accounts.end_sessions(user.id)
    db.session.commit()
    flash(f"Every session of {user.username} has ended.", "info")
    return redirect(url_for("admin.index"), code=303)
