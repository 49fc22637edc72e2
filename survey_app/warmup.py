"""What every server process would otherwise compute on its first requests,
computed once before gunicorn forks its workers (gunicorn.conf.py: `preload_app`,
`when_ready`): the hierarchy, the class names, the suggestions' priors, the skills,
the search counts, the annotate page's templates, and the review pages' aggregation
with what the pages derive from it. The workers inherit them copy-on-write, already
frozen out of the collector (database.hierarchy_from_db); each worker computed them
itself before (0.6 s of CPU at ImageNet-1k's size, in the requests that came first),
and held its own copy. The aggregation is loaded from the store where a process kept
it there (with what the aggregations derived from the hierarchy, `aggregation_store`),
else computed: at ImageNet-21k's size a worker's first review page took 3.4-4.0 s
before, 67-71 ms now (benchmarks/growth_load.py's "first review summary")."""

from __future__ import annotations

from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from survey_app import class_states
from survey_app.aggregation import current_aggregation, prepare_for_pages
from survey_app.annotate_data import display_names
from survey_app.caches import caches
from survey_app.counts import recent_counts
from survey_app.database import hierarchy_from_db
from survey_app.errors import SurveyError
from survey_app.extensions import db

TEMPLATES = (
    "annotate.html",
    "_chain.html",
    "_member_set.html",
    "home.html",
    "review/index.html",
)


def warm(app: Flask) -> None:
    """Compute the kept values in this process, then close its database connections,
    which a forked worker must not share. A survey not set up yet (nothing seeded) is
    left cold, nothing kept: its workers read the hierarchy once it is there."""
    with app.app_context():
        try:
            if hierarchy_from_db().classes:
                display_names()
                recent_counts()
                class_states.suggestions()
                class_states.skills()
                for name in TEMPLATES:
                    app.jinja_env.get_template(name)
                _warm_aggregation(app)
            else:
                caches().clear()
        except (SQLAlchemyError, SurveyError) as exc:  # not migrated, unreachable: the pages say
            caches().clear()
            app.logger.warning("not warmed before the workers start: %s", exc)
        finally:
            db.session.remove()
            db.engine.dispose()


def _warm_aggregation(app: Flask) -> None:
    """The review pages' aggregation (their settings: `current_aggregation`'s defaults)
    and what they derive from it. One that cannot be computed leaves the workers to try
    on their pages, which show why: the server starts all the same."""
    try:
        prepare_for_pages(current_aggregation())
    except Exception:  # whatever it was, the review page reports it
        db.session.rollback()
        app.logger.exception("the aggregation was not computed before the workers start")
