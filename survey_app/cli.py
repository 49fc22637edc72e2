"""Every `flask` command of the survey: setup, seed, fill-counts, create-admin,
invite, export-votes, export-cil, dump-data, restore-data.

Each is a thin click wrapper around plain functions that tests and pages call
too. An error of the survey (`SurveyError`) or of the clustering pipeline
(`ClusteringError`) ends a command with its message and a non-zero status.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import IO

import click
from flask import Blueprint, current_app, url_for
from flask_migrate import upgrade
from sqlalchemy import distinct, func, select
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from clustering.aggregate import AGGREGATORS, DEFAULT_TIE_BREAK, TIE_BREAKS
from clustering.cil import dumps_cil
from clustering.conflicts import DEFAULT_POLICY, POLICIES
from clustering.errors import ClusteringError
from clustering.hierarchy import Hierarchy
from clustering.votes import LabelDecision, decisions_to_jsonl, votes_to_jsonl
from survey_app import accounts, class_states
from survey_app.aggregation import SURVEY_WEIGHTING, current_aggregation, database_decisions
from survey_app.backup import RestoreError, restore_records, write_dump
from survey_app.counts import fill_search_counts
from survey_app.errors import SurveyError
from survey_app.extensions import db
from survey_app.models import ClassState, Vote
from survey_app.seeding import seed_hierarchy
from survey_app.startup import served_address
from survey_app.vote_log import database_votes

# Top-level `flask` commands; the blueprint's group pushes the app context.
bp = Blueprint("cli", __name__, cli_group=None)


def command(name: str):
    """`bp.cli.command(name)`, ending on an error of the survey or of the
    clustering pipeline with its message (exit status 1)."""

    def register(function):
        @functools.wraps(function)
        def run(*args, **kwargs):
            try:
                return function(*args, **kwargs)
            except (SurveyError, ClusteringError) as exc:
                raise click.ClickException(str(exc)) from None

        return bp.cli.command(name)(run)

    return register


# --- the database: setup, seed, fill-counts -------------------------------------------
def load_or_build_hierarchy(path: str | None = None, classes: str | None = None) -> Hierarchy:
    """The hierarchy JSON at `path` (HIERARCHY_FILE by default); built from WordNet
    and saved there when it does not exist yet."""
    return Hierarchy.load_or_build(
        path or current_app.config["HIERARCHY_FILE"], classes or current_app.config["CLASS_LIST"]
    )


def _hierarchy(hierarchy_file, classes) -> Hierarchy:
    try:
        return load_or_build_hierarchy(hierarchy_file, classes)
    except FileNotFoundError as exc:  # a --hierarchy file that is not there
        raise click.ClickException(str(exc)) from None


def _seed(hierarchy: Hierarchy) -> None:
    added = seed_hierarchy(hierarchy)
    summary = ", ".join(f"{n} {table}" for table, n in added.items())
    click.echo(f"Seeded hierarchy {hierarchy.version}: added {summary}.")


def _fill(provider: str, retry_failed: bool) -> None:
    result = fill_search_counts(provider, retry_failed=retry_failed)
    click.echo(
        f"Search counts ({provider}): {result['fetched']} fetched, {result['failed']} failed, "
        f"{result['cached']} already cached."
    )
    if result["stopped"]:
        raise click.ClickException(
            f"stopped after repeated failures with {result['stopped']} terms left; the "
            "service looks unreachable. Run `flask fill-counts --retry-failed` later to resume."
        )


hierarchy_option = click.option(
    "--hierarchy",
    "hierarchy_file",
    metavar="FILE",
    help="hierarchy JSON (default: HIERARCHY_FILE, built from WordNet when missing)",
)
classes_option = click.option(
    "--classes",
    metavar="FILE_OR_DIR",
    help="class list when building: a file of wnids or a dataset folder (default: ImageNet-1k)",
)


@command("seed")
@hierarchy_option
@classes_option
def seed_command(hierarchy_file, classes) -> None:
    """Seed classes, synsets, edges and chains from a hierarchy (idempotent)."""
    _seed(_hierarchy(hierarchy_file, classes))


@command("fill-counts")
@click.option(
    "--provider",
    default=None,
    help="search-count provider (default: COUNT_PROVIDER, normally wordfreq)",
)
@click.option("--retry-failed", is_flag=True, help="also retry terms whose last fetch failed")
def fill_counts_command(provider, retry_failed) -> None:
    """Fill the search-count cache for every synset; resumes where it stopped."""
    _fill(provider or current_app.config["COUNT_PROVIDER"], retry_failed)


@command("setup")
@hierarchy_option
@classes_option
def setup_command(hierarchy_file, classes) -> None:
    """Everything `make run` needs: migrate, seed, fill the offline counts."""
    # A bad class list is refused before the database is touched.
    hierarchy = _hierarchy(hierarchy_file, classes)
    try:
        upgrade()
    except OperationalError as exc:
        raise click.ClickException(
            f"cannot reach the database {current_app.config['SQLALCHEMY_DATABASE_URI']!r}: "
            f"{exc.orig}. Check DATABASE_URL and that the server is running."
        ) from None
    _seed(hierarchy)
    _fill(current_app.config["COUNT_PROVIDER"], retry_failed=False)
    _queue_states()


def _queue_states() -> None:
    """The queue's class states where votes have none (a database from before the
    adaptive queue, migration 0006): the queue would serve their closed classes."""
    voted = db.session.scalar(select(func.count(distinct(Vote.class_wnid))))
    known = db.session.scalar(select(func.count()).select_from(ClassState))
    if voted and known < voted:
        click.echo(f"Reconsidered {class_states.refresh_all()} voted classes for the queue.")
        db.session.commit()


# --- accounts: create-admin, invite ----------------------------------------------------
@command("create-admin")
@click.argument("username")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    envvar="CIL_ADMIN_PASSWORD",
    help="asked for when not given (or set CIL_ADMIN_PASSWORD)",
)
def create_admin_command(username: str, password: str) -> None:
    """Create an admin account."""
    try:
        accounts.create_user(username, password, "admin")
        db.session.commit()
    except SQLAlchemyError as exc:
        raise click.ClickException(
            f"the database is not ready ({exc.__class__.__name__}); "
            "run `flask --app survey_app setup` first"
        ) from None
    click.echo(f"Admin {username} created; log in at /login.")


@command("invite")
@click.option("--role", type=click.Choice(accounts.ROLES), default="annotator", show_default=True)
@click.option(
    "--days",
    type=click.IntRange(min=1),
    default=None,
    help="days the link stays valid (default: INVITATION_DAYS, 7)",
)
@click.option(
    "--base-url",
    default=None,
    help="the address annotators open the app at (default: CIL_BASE_URL, else "
    "where `flask run` last served the app, else http://127.0.0.1:5000)",
)
def invite_command(role: str, days: int | None, base_url: str | None) -> None:
    """Print a one-time invitation link."""
    token = accounts.create_invitation(role, days=days)
    with current_app.test_request_context():
        path = url_for("auth.accept_invitation", token=token)
    click.echo(f"{(base_url or served_address(current_app)).rstrip('/')}{path}")


# --- exports: export-votes, export-cil --------------------------------------------------
def _write(path: str, text: str) -> None:
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise click.ClickException(f"cannot write {path}: {exc.strerror}") from None


@command("export-votes")
@click.argument("file", type=click.Path(dir_okay=False, writable=True))
@click.option(
    "--decisions",
    "decisions_file",
    metavar="FILE",
    help="also write the admin decisions (class and label decisions) as JSON lines, for "
    "`python -m clustering aggregate --decisions`",
)
def export_votes_command(file: str, decisions_file: str | None) -> None:
    """Write every vote as JSON lines (annotator, wnid, label, time, comment)."""
    votes = database_votes()
    _write(file, votes_to_jsonl(votes))
    message = f"Wrote {len(votes)} votes to {file}"
    if decisions_file:
        decisions = database_decisions()
        _write(decisions_file, decisions_to_jsonl(decisions))
        labels = sum(isinstance(d, LabelDecision) for d in decisions)
        message += (
            f" and {len(decisions) - labels} class decisions and {labels} label decisions "
            f"to {decisions_file}"
        )
    click.echo(message + ".")


@command("export-cil")
@click.argument("file", type=click.Path(dir_okay=False, writable=True))
@click.option("--flat", is_flag=True, help="the original flat {wnid: label name} format")
@click.option(
    "--min-votes",
    type=click.IntRange(min=1),
    help="votes a class needs; with fewer it keeps its own label (default: the fewest "
    "votes the queue closes a class with, as the review's download)",
)
@click.option(
    "--conflicts",
    type=click.Choice(POLICIES),
    default=DEFAULT_POLICY,
    show_default=True,
    help="how to resolve a label that is an ancestor of another",
)
@click.option(
    "--weighting",
    type=click.Choice(tuple(AGGREGATORS)),
    default=SURVEY_WEIGHTING,
    show_default=True,
    help="confidence: the queue's numbers (votes, each annotator's reliability, the "
    "model's prior); none: plain majority; wawa: weighted by agreement",
)
@click.option(
    "--tie-break",
    type=click.Choice(TIE_BREAKS),
    default=DEFAULT_TIE_BREAK,
    show_default=True,
    help="which tied synset wins",
)
@click.option("--report", "report_file", metavar="FILE", help="also write the aggregation report")
def export_cil_command(
    file: str,
    flat: bool,
    min_votes: int | None,
    conflicts: str,
    weighting: str,
    tie_break: str,
    report_file: str | None,
) -> None:
    """Aggregate the votes into a CIL and write it."""
    result = current_aggregation(min_votes, conflicts, weighting, tie_break)
    result.resolution.check_decisions()
    _write(file, dumps_cil(result.cil, flat))
    if report_file:
        _write(report_file, json.dumps(result.report(), sort_keys=True, indent=1) + "\n")
    click.echo(
        f"Wrote {file}: {result.cil.num_labels} labels for {len(result.cil.classes)} "
        f"classes; {len(result.resolution.conflicts)} conflict(s) resolved ({conflicts})."
    )


# --- backups: dump-data, restore-data ---------------------------------------------------
def _private_stream(path: Path) -> IO[str]:
    """`path` opened for writing, readable by its owner only (it holds password
    hashes), from its creation on; an older file of that name is narrowed too."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)
    return os.fdopen(descriptor, "w", encoding="utf-8")


def _counted(counts: dict[str, int]) -> str:
    return (
        f"{counts['annotator']} annotators, {counts['vote']} votes, "
        f"{counts['decision']} decisions, {counts['label_decision']} label decisions"
    )


@command("dump-data")
@click.argument("path", type=click.Path(dir_okay=False, writable=True, path_type=Path))
def dump_command(path: Path) -> None:
    """Write annotators, votes, class and label decisions to PATH as JSONL ('-' for stdout)."""
    if str(path) == "-":
        written = write_dump(click.get_text_stream("stdout"))
    else:
        with _private_stream(path) as stream:
            written = write_dump(stream)
    click.echo(f"dumped {_counted(written)}", err=True)


@command("restore-data")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def restore_command(path: Path) -> None:
    """Restore a `dump-data` file into a freshly seeded database."""
    try:
        try:
            text = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise RestoreError(f"not UTF-8 text (byte {exc.start})") from None
        counts = restore_records(text.splitlines())
    except RestoreError as exc:
        raise click.ClickException(f"{path}: {exc}. Nothing was restored.") from None
    click.echo(f"restored {_counted(counts)}")
