"""The survey web app: a Flask application factory in the flaskr style."""

from __future__ import annotations

import os

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from survey_app import auth, errors, images, security, startup, views
from survey_app.config import defaults, secret_key
from survey_app.database import init_database
from survey_app.extensions import csrf, db, migrate

MIGRATIONS_DIR = os.path.join(os.path.dirname(os.path.dirname(__file__)), "migrations")


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

    proxies = int(app.config["TRUSTED_PROXIES"])
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)

    db.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS_DIR)
    csrf.init_app(app)
    auth.init_app(app)
    init_database(app)
    errors.init_app(app)
    security.init_app(app)
    images.init_app(app)
    views.init_app(app)
    if not app.config["TESTING"]:
        startup.announce_setup_link(app)
    return app
