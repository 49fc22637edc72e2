"""The JSON API (api.py, and /health) described as an OpenAPI 3.1 document,
served at /api/openapi.json without a login: it describes the API, not the
survey's data.

Written here once rather than generated: the API answers plain dicts, which no
library can read a schema from. tests/survey_app/test_openapi.py keeps the two
from drifting apart: the document names exactly the app's JSON routes and
methods, and schemathesis checks the live app's answers against it (objects
allow no field the document does not name)."""

from __future__ import annotations

from flask import Blueprint, jsonify

from survey_app.votes import COMMENT_MAX, SUBMISSION_ID_RE

bp = Blueprint("openapi", __name__)

PATH = "/api/openapi.json"


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _object(properties: dict, required: list[str] | None = None, **extra) -> dict:
    """A JSON object with exactly these properties, all of them present unless
    `required` names fewer."""
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else required,
        "additionalProperties": False,
        **extra,
    }


def _nullable(schema: dict) -> dict:
    return {"anyOf": [schema, {"type": "null"}]}


def _answer(description: str, schema: str | dict) -> dict:
    body = _ref(schema) if isinstance(schema, str) else schema
    return {"description": description, "content": {"application/json": {"schema": body}}}


def _error(description: str, schema: str = "Error") -> dict:
    return _answer(description, schema)


WNID = {"type": "string", "pattern": "^n[0-9]{8}$", "description": "a WordNet synset's id"}
TEXT = {"type": "string", "maxLength": COMMENT_MAX}
TIME = {"type": "string", "format": "date-time", "description": "UTC, ISO 8601"}
COUNT = {"type": "integer", "minimum": 0}

SCHEMAS = {
    "Error": _object({"error": {"type": "string"}, "status": {"type": "integer"}}),
    "Refusal": _object(
        {
            "error": {"type": "string"},
            "status": {"const": 400},
            "problems": {
                "type": "object",
                "description": "field -> what is wrong with it",
                "additionalProperties": {"type": "string"},
            },
        }
    ),
    "AnyError": {"anyOf": [_ref("Refusal"), _ref("Error")]},
    "Health": _object({"status": {"const": "ok"}, "database": {"const": "ok"}, "classes": COUNT}),
    "Unavailable": _object({"status": {"const": "unavailable"}, "error": {"type": "string"}}),
    "Me": _object(
        {
            "username": {"type": "string"},
            "role": {"enum": ["annotator", "admin"]},
            "csrf_token": {"type": "string", "description": "for the X-CSRFToken header"},
        }
    ),
    "Progress": _object(
        {
            "annotator": _object({"voted": COUNT, "total": COUNT}),
            "team": _object(
                {
                    "complete": COUNT,
                    "total": COUNT,
                    "min_votes": COUNT,
                    "max_votes": COUNT,
                    "target": {"type": "number"},
                }
            ),
        }
    ),
    "Next": _object(
        {
            "class": _nullable(WNID),
            "url": _nullable({"type": "string", "description": "/api/classes/WNID"}),
        }
    ),
    "Member": _object(
        {"wnid": WNID, "name": {"type": "string"}, "image": _nullable({"type": "string"})}
    ),
    "Candidate": _object(
        {
            "wnid": WNID,
            "name": {"type": "string"},
            "lemmas": {"type": "array", "items": {"type": "string"}},
            "gloss": {"type": "string"},
            "depth": COUNT,
            "paths": {"type": "array", "items": COUNT, "description": "0-based path numbers"},
            "count": _nullable(COUNT),
            "count_text": {"type": "string"},
            "count_lemma": {"type": "string"},
            "provider": _nullable({"type": "string"}),
            "original": {"type": "boolean", "description": "the class itself"},
            "suggested": {"type": "boolean"},
            "other_classes": COUNT,
            "members": {"type": "array", "items": _ref("Member"), "maxItems": 10},
        }
    ),
    "Class": _object(
        {
            "wnid": WNID,
            "index": COUNT,
            "name": {"type": "string"},
            "gloss": {"type": "string"},
            "lemmas": {"type": "array", "items": {"type": "string"}},
            "n_paths": {"type": "integer", "minimum": 1},
            "images": {"type": "array", "items": {"type": "string"}},
            "suggestion": _nullable(WNID),
            "selected": _nullable(WNID),
            "my_vote": _nullable(_ref("Vote")),
            "chain": {"type": "array", "items": _ref("Candidate"), "description": "root first"},
        }
    ),
    "Vote": _object(
        {
            "id": COUNT,
            "class": WNID,
            "synset": WNID,
            "synset_name": {"type": "string"},
            "comment": _nullable(TEXT),
            "created_at": TIME,
        }
    ),
    "Votes": _object({"votes": {"type": "array", "items": _ref("Vote")}}),
    "NewVote": {
        "type": "object",
        "properties": {
            "class": WNID,
            "synset": {**WNID, "description": "a synset on the class's chain"},
            "comment": _nullable(TEXT),
            "submission_id": _nullable(
                {
                    "type": "string",
                    "pattern": "^" + SUBMISSION_ID_RE.removesuffix(r"\Z") + "$",
                    "description": "chosen once per vote, so that a resent one counts once",
                }
            ),
        },
        "required": ["class", "synset"],
    },
    "VoteAnswer": _object(
        {"vote": _ref("Vote"), "created": {"type": "boolean"}, "next": _nullable(WNID)}
    ),
    "Conflict": _object(
        {
            "general": _object({"wnid": WNID, "name": {"type": "string"}}),
            "settled": {"type": "boolean"},
            "labels": {
                "type": "array",
                "items": _object(
                    {
                        "wnid": WNID,
                        "name": {"type": "string"},
                        "classes": {"type": "array", "items": WNID},
                        "kept": {"type": "boolean"},
                        "by": {"enum": ["label decision", "class decision", "policy"]},
                        "kept_votes": {"type": "number"},
                        "merged_votes": {"type": "number"},
                    }
                ),
            },
        }
    ),
    "Conflicts": _object({"conflicts": {"type": "array", "items": _ref("Conflict")}}),
    "LabelDecision": _object(
        {
            "id": COUNT,
            "admin": {"type": "string"},
            "general": WNID,
            "keep": {"type": "array", "items": WNID},
            "merge": {"type": "array", "items": WNID},
            "name": _nullable({"type": "string"}),
            "note": _nullable(TEXT),
            "created_at": TIME,
        }
    ),
    "LabelDecisions": _object(
        {"label_decisions": {"type": "array", "items": _ref("LabelDecision")}}
    ),
    "LabelDecisionAnswer": _object({"label_decision": _ref("LabelDecision")}),
    "NewLabelDecision": _object(
        {
            "general": WNID,
            "keep": {"type": "array", "items": WNID},
            "merge": {"type": "array", "items": WNID},
            "name": _nullable({"type": "string", "description": "a lemma of the general label"}),
            "note": _nullable(TEXT),
        },
        required=["general"],
    ),
    "Accept": {
        "oneOf": [
            _object({"general": WNID}),
            _object({"all": {"const": True}}),
        ]
    },
}

LOGGED_IN = [{"session": []}]
# A POST also needs the session's CSRF token in a header.
LOGGED_IN_POST = [{"session": [], "csrf": []}]
UNAUTHORIZED = {"401": _error("not logged in")}
FORBIDDEN = {"403": _error("not an admin")}
REFUSED = {"400": _error("not a JSON object, a wrong field, or the CSRF header missing")}
TOO_LARGE = {"413": _error("a body over the app's limit (MAX_CONTENT_LENGTH)")}


def _get(summary: str, answer: dict, *, errors: dict | None = None, **extra) -> dict:
    return {
        "summary": summary,
        "security": LOGGED_IN,
        "responses": {"200": answer, **UNAUTHORIZED, **(errors or {})},
        **extra,
    }


def _post(summary: str, body: str, responses: dict) -> dict:
    return {
        "summary": summary,
        "security": LOGGED_IN_POST,
        "requestBody": {"required": True, "content": {"application/json": {"schema": _ref(body)}}},
        "responses": {**responses, **UNAUTHORIZED, **TOO_LARGE},
    }


PATHS = {
    "/health": {
        "get": {
            "summary": "Liveness and readiness: 200 when the database answers",
            "security": [],
            "responses": {
                "200": _answer("the app and its database answer", "Health"),
                "503": _answer("the database does not answer", "Unavailable"),
            },
        }
    },
    PATH: {
        "get": {
            "summary": "This document",
            "security": [],
            "responses": {"200": _answer("an OpenAPI 3.1 document", {"type": "object"})},
        }
    },
    "/api/me": {
        "get": _get("Who is logged in, and the CSRF token their POSTs send", _answer("OK", "Me"))
    },
    "/api/progress": {
        "get": _get(
            "The annotator's classes voted on, and the team's closed classes",
            _answer("OK", "Progress"),
        )
    },
    "/api/next": {
        "get": _get(
            "The queue's next class for the annotator, held for them a while",
            _answer("OK", "Next"),
        ),
    },
    "/api/classes/{wnid}": {
        "get": _get(
            "A class with its candidate chain, counts, suggestion and the annotator's vote",
            _answer("OK", "Class"),
            errors={"404": _error("not a class of the survey")},
            parameters=[{"name": "wnid", "in": "path", "required": True, "schema": WNID}],
        )
    },
    "/api/votes": {
        "get": _get(
            "The annotator's votes that count, newest first; every vote, oldest first, "
            "with history=1",
            _answer("OK", "Votes"),
            parameters=[
                {"name": "history", "in": "query", "required": False, "schema": {"enum": ["1"]}}
            ],
        ),
        "post": _post(
            "Cast a vote",
            "NewVote",
            {
                "201": _answer("stored", "VoteAnswer"),
                "200": _answer("sent before, or the same as the latest vote", "VoteAnswer"),
                **REFUSED,
                "404": _error("not a class of the survey"),
                "429": _error("past the vote rate limit"),
            },
        ),
    },
    "/api/conflicts": {
        "get": _get(
            "Every conflict group of the current labels (admins)",
            _answer("OK", "Conflicts"),
            errors=FORBIDDEN,
        )
    },
    "/api/conflicts/accept": {
        "post": _post(
            "Record the proposed resolution of one open conflict group, or of all (admins)",
            "Accept",
            {
                "201": _answer("recorded", "LabelDecisions"),
                "200": _answer("no open group: nothing recorded", "LabelDecisions"),
                "400": _error("not an open group's general label, or another body", "AnyError"),
                **FORBIDDEN,
            },
        )
    },
    "/api/label-decisions": {
        "get": _get(
            "Every label decision, oldest first (admins)",
            _answer("OK", "LabelDecisions"),
            errors=FORBIDDEN,
        ),
        "post": _post(
            "Settle a conflict group (admins)",
            "NewLabelDecision",
            {
                "201": _answer("stored", "LabelDecisionAnswer"),
                "400": _error(
                    "a wrong field (named in problems), or not a JSON object", "AnyError"
                ),
                **FORBIDDEN,
            },
        ),
    },
}

DOCUMENT = {
    "openapi": "3.1.0",
    "info": {
        "title": "Clustered ImageNet Labels: the survey's JSON API",
        "version": "1",
        "description": "The same login session as the pages (the cookie from the form at "
        "/login). Errors are {error, status}. See README.md, section 'The JSON API'.",
    },
    "paths": PATHS,
    "components": {
        "schemas": SCHEMAS,
        "securitySchemes": {
            "session": {"type": "apiKey", "in": "cookie", "name": "session"},
            "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRFToken"},
        },
    },
}


@bp.get(PATH)
def openapi_document():
    return jsonify(DOCUMENT)
