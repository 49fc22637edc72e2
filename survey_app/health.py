"""`/health`: what load balancers and docker-compose's health check read."""

from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import func, select

from survey_app.extensions import db
from survey_app.models import ImageClass

bp = Blueprint("health", __name__)


@bp.get("/health")
def health():
    """Liveness and readiness in one: 200 when the database answers (503 from
    error_pages.py when it does not): counting the classes is the round trip
    that shows it."""
    classes = db.session.scalar(select(func.count()).select_from(ImageClass))
    return jsonify(status="ok", database="ok", classes=classes)
