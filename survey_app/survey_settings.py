"""What the admins set for the whole survey from the admin page: the guidelines
annotators read, how the suggestion is shown, and when the queue closes a class
(`clustering.confidence.ClosingRule`, defaults from the `CIL_*` settings). Kept in
the `meta` table, so every worker process reads the same."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, g
from sqlalchemy import select

from clustering.confidence import ClosingRule
from survey_app import stored_text
from survey_app.caches import kept
from survey_app.database import execute
from survey_app.extensions import db
from survey_app.models import Meta

GUIDELINES_KEY = "guidelines"
SUGGESTION_KEY = "suggestion_mode"
# "preselect": the suggestion is the selected answer (fast, and an anchor);
# "badge": marked but not selected; "hidden": not shown at all.
SUGGESTION_MODES = ("preselect", "badge", "hidden")
GUIDELINES_MAX = 10_000
# The queue's settings in `meta`, each overriding the app's setting of the same name.
QUEUE_KEYS = {
    "queue_min_votes": "MIN_VOTES",
    "queue_max_votes": "MAX_VOTES",
    "queue_target": "TARGET_CONFIDENCE",
    "queue_batch": "QUEUE_BATCH",
    "queue_hide_first": "HIDE_FIRST_SUGGESTION",
}


@dataclass(frozen=True)
class SurveySettings:
    guidelines: str  # plain text, shown with its line breaks
    suggestion_mode: str
    closing: ClosingRule  # when the queue closes a class
    batch: int  # open classes the queue serves before any other
    hide_first: bool  # the first vote on a class is cast without the suggestion

    @property
    def preselect(self) -> bool:
        return self.suggestion_mode == "preselect"

    @property
    def show_suggestion(self) -> bool:
        return self.suggestion_mode != "hidden"


# A Core statement built once (database.execute): through the ORM this one query
# took five times as long (0.22 ms against 0.04 ms), a tenth of the annotate page's time.
_meta = Meta.__table__
_KEPT = "survey_settings"  # the key in flask.g
_KEYS = (GUIDELINES_KEY, SUGGESTION_KEY, *QUEUE_KEYS)
_SETTINGS = select(_meta.c.key, _meta.c.value).where(_meta.c.key.in_(_KEYS))
# The same values as columns of one row (NULL where nothing is stored), for the
# annotate page and the vote to read with their other questions in one statement.
SETTING_COLUMNS = tuple(
    select(_meta.c.value).where(_meta.c.key == key).scalar_subquery().label(f"setting_{key}")
    for key in _KEYS
)


def survey_settings() -> SurveySettings:
    """One query per request (kept in `g`): the annotate page, the vote, the queue and
    the progress bar each ask."""
    if _KEPT not in g:
        keep_for_request(settings_from(dict(execute(_SETTINGS).all())))
    return getattr(g, _KEPT)


def keep_for_request(settings: SurveySettings) -> None:
    """What `survey_settings()` answers for the rest of the request: settings read
    with another statement (`SETTING_COLUMNS`)."""
    setattr(g, _KEPT, settings)


def read_with_queue_settings(statement, **params) -> tuple[list, SurveySettings]:
    """The rows of a statement that reads the settings (`SETTING_COLUMNS`) and asks the
    queue with its settings as parameters (`queue_parameters`), and the settings they
    hold (kept for the request). The parameters are those this process saw last, and
    the statement runs once more in the rare request that reads others (an admin changed
    them): read inside the statement from `meta` instead, they cost SQLite more than the
    statements it replaced."""
    seen = kept("queue_parameters_seen", None, dict)
    if not seen:
        seen.update(queue_parameters(settings_from({})))
    rows = execute(statement, **seen, **params).all()
    settings = settings_from_row(rows[0])
    if queue_parameters(settings) != seen:
        seen.update(queue_parameters(settings))
        rows = execute(statement, **seen, **params).all()
    keep_for_request(settings)
    return rows, settings


def queue_parameters(settings: SurveySettings) -> dict[str, int]:
    """The settings the queue's statements take as parameters (survey_app.work_queue):
    the batch, and the most votes a class takes."""
    return {"batch": settings.batch, "max_votes": settings.closing.max_votes}


def settings_from_row(row) -> SurveySettings:
    """The settings of a row that holds `SETTING_COLUMNS`."""
    values = ((key, getattr(row, f"setting_{key}")) for key in _KEYS)
    return settings_from({key: value for key, value in values if value is not None})


def _forget() -> None:
    """After a save: the request's later reads see it."""
    g.pop(_KEPT, None)


def settings_from(stored: dict[str, str]) -> SurveySettings:
    """The settings from the stored `meta` values (key -> value)."""
    mode = stored.get(SUGGESTION_KEY, "preselect")
    queue = queue_settings(stored)
    return SurveySettings(
        stored.get(GUIDELINES_KEY, ""),
        mode if mode in SUGGESTION_MODES else "preselect",
        ClosingRule(queue["MIN_VOTES"], queue["MAX_VOTES"], queue["TARGET_CONFIDENCE"]),
        queue["QUEUE_BATCH"],
        queue["HIDE_FIRST_SUGGESTION"],
    )


def queue_settings(stored: dict[str, str] | None = None) -> dict:
    """The queue's settings: the app's, overridden by what an admin saved."""
    config = current_app.config
    values = {name: config[name] for name in QUEUE_KEYS.values()}
    for key, name in QUEUE_KEYS.items():
        if stored and key in stored:
            values[name] = _parse(name, stored[key])
    return values


def _parse(name: str, text: str) -> int | float | bool:
    if name == "HIDE_FIRST_SUGGESTION":
        return text == "true"
    return float(text) if name == "TARGET_CONFIDENCE" else int(text)


def check_queue_settings(values: dict) -> None:
    """ValueError naming what is out of range (see `ClosingRule`), and the batch."""
    ClosingRule(values["MIN_VOTES"], values["MAX_VOTES"], values["TARGET_CONFIDENCE"])
    batch = values["QUEUE_BATCH"]
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise ValueError(f"the queue batch must be a whole number of at least 1, got {batch!r}")
    if values["HIDE_FIRST_SUGGESTION"] not in (True, False):
        raise ValueError("HIDE_FIRST_SUGGESTION must be true or false")


def save_queue_settings(values: dict) -> None:
    """Store the queue's settings (checked first; nothing is stored when one is wrong)."""
    check_queue_settings(values)
    for key, name in QUEUE_KEYS.items():
        value = values[name]
        _store(key, ("true" if value else "false") if isinstance(value, bool) else str(value))
    db.session.commit()
    _forget()


def _store(key: str, value: str) -> None:
    row = db.session.get(Meta, key)
    if row is None:
        db.session.add(Meta(key=key, value=value))
    else:
        row.value = value


def clean_guidelines(guidelines: str | None) -> str:
    """The guidelines as stored, checked as every stored text is (ValueError)."""
    return stored_text.clean_text(guidelines, "guidelines", GUIDELINES_MAX) or ""


def save_survey_settings(guidelines: str, suggestion_mode: str) -> None:
    """Store the guidelines and the suggestion mode (both checked first; nothing is
    stored when one is wrong)."""
    guidelines = clean_guidelines(guidelines)
    if suggestion_mode not in SUGGESTION_MODES:
        raise ValueError(f"suggestion mode must be one of {', '.join(SUGGESTION_MODES)}")
    for key, value in ((GUIDELINES_KEY, guidelines), (SUGGESTION_KEY, suggestion_mode)):
        _store(key, value)
    db.session.commit()
    _forget()
