"""The survey web app: a Flask application factory in the flaskr style. All
wiring is here: settings, extensions, the blueprints with their URL prefixes,
and each module's `init_app`."""

from __future__ import annotations

import os

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from survey_app import (
    accounts,
    admin,
    annotate,
    api,
    auth,
    browse,
    caches,
    cli,
    demo,
    error_pages,
    health,
    images,
    openapi,
    page_header,
    review,
    security,
    startup,
)
from survey_app.config import defaults, secret_key
from survey_app.database import init_database
from survey_app.errors import SurveyError
from survey_app.extensions import csrf, db, migrate
from survey_app.survey_settings import QUEUE_KEYS, check_queue_settings

MIGRATIONS_DIR = os.path.join(os.path.dirname(os.path.dirname(__file__)), "migrations")

# (blueprint, URL prefix): every page, the JSON API and the `flask` commands.
BLUEPRINTS = (
    (health.bp, None),
    (auth.bp, None),
    (annotate.bp, None),
    (browse.bp, None),
    (images.bp, None),
    (api.bp, "/api"),
    (openapi.bp, None),  # /api/openapi.json, outside the API's login
    (admin.bp, "/admin"),
    (review.bp, "/admin/review"),
    (demo.bp, "/demo"),
    (cli.bp, None),
)


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.update(defaults(app.instance_path))
    if test_config is None:
        app.config.from_prefixed_env("CIL")
        app.config["SECRET_KEY"] = secret_key(app.instance_path)
    else:
        app.config["SECRET_KEY"] = "test"
        app.config.update(test_config)

    try:
        check_queue_settings({name: app.config[name] for name in QUEUE_KEYS.values()})
    except ValueError as exc:
        raise SurveyError(
            f"The queue's settings (CIL_MIN_VOTES, CIL_MAX_VOTES, CIL_TARGET_CONFIDENCE, "
            f"CIL_QUEUE_BATCH, CIL_HIDE_FIRST_SUGGESTION) are out of range: {exc}"
        ) from None

    hold = app.config["QUEUE_HOLD_SECONDS"]
    if isinstance(hold, bool) or not isinstance(hold, int | float) or hold < 0:
        raise SurveyError(
            f"CIL_QUEUE_HOLD_SECONDS is a number of seconds, 0 or more (0: no holds); got {hold!r}"
        )

    problem = accounts.hash_method_problem(app.config["PASSWORD_HASH_METHOD"])
    if problem:
        raise SurveyError(problem)

    proxies = int(app.config["TRUSTED_PROXIES"])
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)

    caches.init_app(app)
    db.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS_DIR)
    csrf.init_app(app)
    auth.init_app(app)
    init_database(app)
    error_pages.init_app(app)
    security.init_app(app)
    images.init_app(app)
    page_header.init_app(app)
    for blueprint, url_prefix in BLUEPRINTS:
        app.register_blueprint(blueprint, url_prefix=url_prefix)
    if not app.config["TESTING"]:
        startup.announce_setup_link(app)
    return app
