"""The survey's settings are stored texts like any other: what no database can store
(a NUL, a lone surrogate) or what is too long is refused with a message, on SQLite and
PostgreSQL, and the settings stored before stay."""

from __future__ import annotations

import pytest

from survey_app.survey_settings import GUIDELINES_MAX, save_survey_settings, survey_settings

from .conftest import add_user, csrf_token, log_in

QUEUE = {"min_votes": 2, "max_votes": 5, "target": "0.8", "batch": 20}


def post_guidelines(admin, guidelines: str):
    return admin.post(
        "/admin/settings",
        data={
            "csrf_token": csrf_token(admin, "/admin/"),
            "survey-guidelines": guidelines,
            "survey-suggestion_mode": "badge",
            **{f"survey-{name}": value for name, value in QUEUE.items()},
        },
    )


@pytest.fixture
def either_admin(either_app):
    return log_in(either_app.test_client(), add_user(either_app, "boss", role="admin"))


def test_a_nul_in_the_guidelines_is_refused_and_nothing_is_saved(either_app, either_admin):
    assert post_guidelines(either_admin, "Name what you see.").status_code == 303
    response = post_guidelines(either_admin, "a\x00b")
    assert response.status_code == 400
    assert (
        "A NUL byte or a lone surrogate cannot be stored in the guidelines."
        in response.get_data(as_text=True)
    )
    with either_app.test_request_context():
        settings = survey_settings()
        assert (settings.guidelines, settings.suggestion_mode) == ("Name what you see.", "badge")


@pytest.mark.parametrize(
    ("guidelines", "problem"),
    [
        ("a\x00b", "cannot be stored in the guidelines"),
        ("lone \ud800 surrogate", "cannot be stored in the guidelines"),
        ("x" * (GUIDELINES_MAX + 1), f"may have at most {GUIDELINES_MAX:,} characters"),
    ],
)
def test_every_way_of_saving_the_guidelines_checks_them(app, guidelines, problem):
    with app.test_request_context():
        with pytest.raises(ValueError, match=problem):
            save_survey_settings(guidelines, "preselect")
        assert survey_settings().guidelines == ""
