"""`flask export-votes` and `flask export-cil`: the database's votes as the
clustering job's JSON lines, and the CIL aggregated from them.

Rows are read by `clustering.dbread`, the same code that `python -m clustering
aggregate --db URL` runs, so both routes give the same CIL; the functions here
are plain, for the commands, the admin pages and the tests alike.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask import Blueprint
from sqlalchemy import func, select

from clustering import dbread
from clustering.aggregate import (
    AGGREGATORS,
    DEFAULT_MIN_VOTES,
    DEFAULT_TIE_BREAK,
    TIE_BREAKS,
    Aggregation,
    aggregate,
)
from clustering.cil import dumps_cil
from clustering.conflicts import DEFAULT_POLICY, POLICIES, ConflictError
from clustering.votes import Decision, Vote, VotesError, decisions_to_jsonl, votes_to_jsonl
from survey_app import models
from survey_app.class_view import hierarchy_cache
from survey_app.extensions import db
from survey_app.seeding import hierarchy_from_db

bp = Blueprint("exports", __name__, cli_group=None)


def database_votes() -> list[Vote]:
    """Every vote in the database, oldest first."""
    return dbread.read_votes(db.session.connection())


def database_decisions() -> list[Decision]:
    """Every admin decision in the database, oldest first."""
    return dbread.read_decisions(db.session.connection())


# Where the append-only vote and decision logs end: a new row changes it.
_LOG_POSITION = select(select(func.max(models.Vote.id)).scalar_subquery(),
                       select(func.max(models.Decision.id)).scalar_subquery())
# Aggregations kept per process, one per setting asked for (the review pages
# ask for one; the downloads may ask for others): more are forgotten.
AGGREGATIONS_KEPT = 8


def current_aggregation(min_votes: int = DEFAULT_MIN_VOTES, conflicts: str = DEFAULT_POLICY,
                        weighting: str = "none",
                        tie_break: str = DEFAULT_TIE_BREAK) -> Aggregation:
    """The CIL the database's votes and decisions give now (see
    `clustering.aggregate`). Every review page shows it, and it reads every
    vote: it is computed once per position of the logs (and hierarchy and
    settings), and kept until a vote or decision is added."""
    position = tuple(db.session.execute(_LOG_POSITION).one())
    settings = (min_votes, conflicts, weighting, tie_break)
    kept = hierarchy_cache("cil_aggregations")
    if settings in kept and kept[settings][0] == position:
        return kept[settings][1]
    result = aggregate(hierarchy_from_db(), database_votes(), database_decisions(),
                       min_votes=min_votes, tie_break=tie_break, weighting=weighting,
                       conflicts=conflicts, source="database")
    if settings not in kept and len(kept) >= AGGREGATIONS_KEPT:
        kept.clear()
    kept[settings] = (position, result)
    return result


def _write(path: str, text: str) -> None:
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise click.ClickException(f"cannot write {path}: {exc.strerror}") from None


@bp.cli.command("export-votes")
@click.argument("file", type=click.Path(dir_okay=False, writable=True))
@click.option("--decisions", "decisions_file", metavar="FILE",
              help="also write the admin decisions as JSON lines, for `python -m clustering "
                   "aggregate --decisions`")
def export_votes_command(file: str, decisions_file: str | None) -> None:
    """Write every vote as JSON lines (annotator, wnid, label, time, comment)."""
    votes = database_votes()
    _write(file, votes_to_jsonl(votes))
    message = f"Wrote {len(votes)} votes to {file}"
    if decisions_file:
        decisions = database_decisions()
        _write(decisions_file, decisions_to_jsonl(decisions))
        message += f" and {len(decisions)} decisions to {decisions_file}"
    click.echo(message + ".")


@bp.cli.command("export-cil")
@click.argument("file", type=click.Path(dir_okay=False, writable=True))
@click.option("--flat", is_flag=True, help="the original flat {wnid: label name} format")
@click.option("--min-votes", type=click.IntRange(min=1), default=DEFAULT_MIN_VOTES,
              show_default=True, help="votes a class needs; with fewer it keeps its own label")
@click.option("--conflicts", type=click.Choice(POLICIES), default=DEFAULT_POLICY,
              show_default=True, help="how to resolve a label that is an ancestor of another")
@click.option("--weighting", type=click.Choice(tuple(AGGREGATORS)), default="none",
              show_default=True, help="none: plain majority; wawa: weighted by agreement")
@click.option("--tie-break", type=click.Choice(TIE_BREAKS), default=DEFAULT_TIE_BREAK,
              show_default=True, help="which tied synset wins")
@click.option("--report", "report_file", metavar="FILE", help="also write the aggregation report")
def export_cil_command(file: str, flat: bool, min_votes: int, conflicts: str, weighting: str,
                       tie_break: str, report_file: str | None) -> None:
    """Aggregate the votes into a CIL and write it."""
    try:
        result = current_aggregation(min_votes, conflicts, weighting, tie_break)
    except (ConflictError, VotesError) as exc:
        raise click.ClickException(str(exc)) from None
    _write(file, dumps_cil(result.cil, flat))
    if report_file:
        _write(report_file, json.dumps(result.report(), sort_keys=True, indent=1) + "\n")
    click.echo(f"Wrote {file}: {result.cil.num_labels} labels for {len(result.cil.classes)} "
               f"classes; {len(result.resolution.conflicts)} conflict(s) resolved ({conflicts}).")
