"""The app's forms, as FlaskForms so each renders its CSRF token. (CSRFProtect
checks every POST, including the bare button forms that carry only
`csrf_token()`.) Their limits come from the modules that enforce them on
every path (votes, accounts, survey_settings)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DecimalField,
    HiddenField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import EqualTo, InputRequired, Length, NumberRange, Optional, Regexp

from survey_app.accounts import ROLES, USERNAME_RE, USERNAME_RULE
from survey_app.survey_settings import GUIDELINES_MAX
from survey_app.votes import COMMENT_MAX, SUBMISSION_ID_RE


class LoginForm(FlaskForm):
    # No account has another shape, so nothing else reaches the database.
    username = StringField(
        "Username",
        validators=[InputRequired(), Regexp(USERNAME_RE, message="Wrong username or password.")],
    )
    password = PasswordField("Password", validators=[InputRequired(), Length(max=256)])
    submit = SubmitField("Log in")


class AccountForm(FlaskForm):
    """Choose a username and password: accepting an invitation, or the first admin."""

    username = StringField(
        "Username",
        validators=[
            InputRequired(),
            Regexp(USERNAME_RE, message=f"A username has {USERNAME_RULE}."),
        ],
    )
    password = PasswordField("Password", validators=[InputRequired(), Length(max=256)])
    confirm = PasswordField(
        "Repeat the password",
        validators=[InputRequired(), EqualTo("password", message="The two passwords differ.")],
    )
    submit = SubmitField("Create account")


class PasswordForm(FlaskForm):
    """Change one's own password."""

    current = PasswordField("Current password", validators=[InputRequired(), Length(max=256)])
    password = PasswordField("New password", validators=[InputRequired(), Length(max=256)])
    confirm = PasswordField(
        "Repeat the new password",
        validators=[InputRequired(), EqualTo("password", message="The two passwords differ.")],
    )
    submit = SubmitField("Change password")


class NewUserForm(AccountForm):
    """An admin creates an account directly, with a role."""

    role = SelectField("Role", choices=list(ROLES), default="annotator")


class InvitationForm(FlaskForm):
    role = SelectField("Role", choices=list(ROLES), default="annotator")
    submit = SubmitField("Create invitation link")


class SurveySettingsForm(FlaskForm):
    guidelines = TextAreaField(
        "Guidelines for annotators (plain text)",
        validators=[Optional(), Length(max=GUIDELINES_MAX)],
    )
    suggestion_mode = SelectField(
        "The suggestion",
        choices=[
            SelectChoice("preselect", "selected in advance"),
            SelectChoice("badge", "marked, not selected"),
            SelectChoice("hidden", "not shown"),
        ],
        validate_choice=True,
    )
    # When the queue closes a class (clustering.confidence.ClosingRule); the ranges
    # are checked again, together, by survey_settings.check_queue_settings.
    min_votes = IntegerField(
        "Fewest votes a class closes with", validators=[InputRequired(), NumberRange(min=1)]
    )
    max_votes = IntegerField(
        "Most votes a class gets", validators=[InputRequired(), NumberRange(min=1)]
    )
    target = DecimalField(
        "Confidence that closes a class (above 0.5, below 1)",
        places=None,
        validators=[InputRequired(), NumberRange(min=0.5, max=1)],
    )
    batch = IntegerField(
        "Open classes the queue works through first",
        validators=[InputRequired(), NumberRange(min=1)],
    )
    hide_first = BooleanField("The first vote on a class is cast without the suggestion")
    submit = SubmitField("Save settings")


class VoteForm(FlaskForm):
    """One vote; the choices are the class's chain, so anything else fails validation.
    The annotate page writes its inputs itself, the WTForms widgets being a
    good part of the busiest page's cost."""

    class Meta:
        # CSRFProtect has checked the token of every POST before the view runs;
        # the form's own check would only check the same token again.
        csrf = False

    synset = RadioField("Label", validators=[InputRequired()], validate_choice=True)
    comment = StringField("Comment (optional)", validators=[Optional(), Length(max=COMMENT_MAX)])
    submission_id = HiddenField(validators=[Optional(), Regexp(SUBMISSION_ID_RE)])


def add_error(form: FlaskForm, error: Exception) -> None:
    """Show a refusal's message (`AccountError`, `VoteError`: "the username 'Alice' is
    taken") above the form, as a sentence: its first letter raised, the rest as it
    is (str.capitalize() would lower it, usernames included)."""
    message = str(error)
    form.form_errors.append(f"{message[:1].upper()}{message[1:]}.")
