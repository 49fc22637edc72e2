"""The OpenAPI document (survey_app/openapi.py) and the app cannot drift apart:
it names exactly the app's JSON routes, it is a valid OpenAPI 3.1 document, and
schemathesis, logged in with a CSRF token, finds no 5xx and no answer that the
document does not describe in the live app."""

from __future__ import annotations

import re

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from benchmarks import load_votes
from survey_app.extensions import db
from survey_app.openapi import DOCUMENT, PATH

from .conftest import PASSWORD, add_user, make_app, seeded, serving
from .test_label_decisions import fill

IGNORED_METHODS = {"HEAD", "OPTIONS"}  # answered by Flask for every route
# No 5xx, and every answer's status, content type and body as the document says.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def json_routes(app) -> set[tuple[str, str]]:
    """(method, path in OpenAPI's {name} form) of every route under /api/, and /health."""
    return {
        (method.lower(), re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule))
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/") or rule.rule == "/health"
        for method in rule.methods - IGNORED_METHODS
    }


def test_document_names_exactly_the_json_routes(app):
    documented = {(method, path) for path, item in DOCUMENT["paths"].items() for method in item}
    assert documented == json_routes(app)


def test_document_is_valid_openapi_3_1():
    schemathesis.openapi.from_dict(DOCUMENT).validate()
    assert DOCUMENT["openapi"].startswith("3.1.")


def test_document_is_served_without_a_login(client):
    response = client.get(PATH)
    assert response.status_code == 200 and response.get_json() == DOCUMENT
    assert client.get("/api/me").status_code == 401  # the API itself still needs one


# --- schemathesis against the live app --------------------------------------------------
@pytest.fixture
def live_app(tmp_path, small_hierarchy, database_url):
    """The app served on 127.0.0.1, on SQLite and on PostgreSQL (which refuses
    some text SQLite stores), with votes that make two conflict groups and an
    admin to log in as; the vote rate limit out of the way of the fuzzing."""
    app = seeded(make_app(tmp_path, database_url, VOTE_RATE_LIMIT=10**6), small_hierarchy)
    add_user(app, "boss", role="admin")
    fill(app)  # two conflict groups, so that the admins' answers have something in them
    with serving(app) as base:
        yield base
    with app.app_context():
        db.engine.dispose()  # PostgreSQL: the test's database is dropped next


@pytest.fixture
def logged_in(live_app):
    """A requests session logged in as the admin by the login form, and the
    header its POSTs send (the CSRF token from GET /api/me)."""
    session = requests.Session()
    page = session.get(f"{live_app}/login").text
    token = load_votes.CSRF_RE.search(page).group(1)
    answer = session.post(
        f"{live_app}/login",
        data={"csrf_token": token, "username": "boss", "password": PASSWORD},
        allow_redirects=False,
    )
    assert answer.is_redirect and answer.headers["Location"] == "/admin/", answer.text
    csrf = session.get(f"{live_app}/api/me").json()["csrf_token"]
    yield session, {"X-CSRFToken": csrf}
    session.close()


OPERATIONS = [(path, method) for path, item in DOCUMENT["paths"].items() for method in item]
WNID = re.compile(r"n[0-9]{8}")


@st.composite
def survey_cases(draw, cases, hierarchy):
    """A schemathesis case whose wnids (in the path and the body, alone or in
    lists) are, half of the time, the survey's own, classes or synsets on their
    chains: random ones are nearly all unknown, which the app refuses before it
    reaches most of its code."""
    case = draw(cases)
    if not draw(st.booleans()):
        return case
    classes = [c.wnid for c in hierarchy.classes]
    synsets = sorted({wnid for c in classes for wnid in hierarchy.chain_wnids(c)})

    def known(value):
        if isinstance(value, str) and WNID.fullmatch(value):
            return draw(st.sampled_from(classes) | st.sampled_from(synsets))
        if isinstance(value, list):
            return [known(item) for item in value]
        return value

    if case.path_parameters:
        case.path_parameters = {key: known(v) for key, v in case.path_parameters.items()}
    if isinstance(case.body, dict):
        case.body = {key: known(value) for key, value in case.body.items()}
    return case


@pytest.mark.slow
@pytest.mark.parametrize("path, method", OPERATIONS)
def test_live_app_conforms_to_the_document(path, method, live_app, logged_in, small_hierarchy):
    """Cases schemathesis makes from the document the live app serves, valid and
    invalid ones, sent with the admin's session cookie and CSRF header."""
    session, csrf = logged_in
    operation = schemathesis.openapi.from_url(f"{live_app}{PATH}")[path][method.upper()]
    # The session and the CSRF token as the document's security schemes name them:
    # schemathesis fills those in itself otherwise.
    auth = {"cookies": {"session": session.cookies["session"]}, "headers": csrf}
    cases = st.one_of(operation.as_strategy(mode, **auth) for mode in GenerationMode)

    # Bounded: at most 50 cases an operation, in one order (derandomize: a failure
    # comes back on the next run); no deadline and no health checks, as each case
    # is an HTTP request to a server that shares the machine.
    @settings(
        max_examples=50,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(survey_cases(cases, small_hierarchy))
    def conforms(case):
        case.call_and_validate(base_url=live_app, checks=CHECKS)

    conforms()
