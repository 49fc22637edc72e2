"""Registers the app's blueprints; each feature lives in its own module."""

from __future__ import annotations

from flask import Flask

from survey_app import (
    account_commands,
    admin,
    annotate,
    api,
    auth,
    backup,
    browse,
    commands,
    demo,
    exports,
    images,
    review,
)


def init_app(app: Flask) -> None:
    app.register_blueprint(browse.bp)
    app.register_blueprint(commands.bp)
    app.register_blueprint(backup.bp)
    app.register_blueprint(exports.bp)
    app.register_blueprint(review.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(account_commands.bp)
    app.register_blueprint(annotate.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(images.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(demo.bp)
