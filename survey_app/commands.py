"""`flask setup`, `flask seed` and `flask fill-counts`: thin wrappers around
plain functions, so tests can call either."""

from __future__ import annotations

import click
from flask import Blueprint, current_app
from flask_migrate import upgrade
from sqlalchemy.exc import OperationalError

from clustering.hierarchy import ClassListError, Hierarchy
from clustering.popularity import ProviderConfigError
from clustering.wordnet import WordNetUnavailable
from survey_app.counts import fill_search_counts
from survey_app.seeding import SeedError, seed_hierarchy


def load_or_build_hierarchy(path: str | None = None, classes: str | None = None) -> Hierarchy:
    """The hierarchy JSON at `path` (HIERARCHY_FILE by default); built from WordNet
    and saved there when it does not exist yet."""
    return Hierarchy.load_or_build(path or current_app.config["HIERARCHY_FILE"],
                                   classes or current_app.config["CLASS_LIST"])


def _fail(message: str) -> None:
    raise click.ClickException(message)


def _seed(hierarchy_file, classes) -> None:
    try:
        hierarchy = load_or_build_hierarchy(hierarchy_file, classes)
        added = seed_hierarchy(hierarchy)
    except (ClassListError, WordNetUnavailable, SeedError, ValueError, FileNotFoundError) as exc:
        _fail(str(exc))
    summary = ", ".join(f"{n} {table}" for table, n in added.items())
    click.echo(f"Seeded hierarchy {hierarchy.version}: added {summary}.")


def _fill(provider: str, retry_failed: bool) -> None:
    try:
        result = fill_search_counts(provider, retry_failed=retry_failed)
    except ProviderConfigError as exc:
        _fail(str(exc))
    click.echo(
        f"Search counts ({provider}): {result['fetched']} fetched, {result['failed']} failed, "
        f"{result['cached']} already cached."
    )
    if result["stopped"]:
        _fail(f"stopped after repeated failures with {result['stopped']} terms left; the "
              "service looks unreachable. Run `flask fill-counts --retry-failed` later to resume.")


# Top-level `flask` commands; the blueprint's group pushes the app context.
bp = Blueprint("commands", __name__, cli_group=None)

hierarchy_option = click.option(
    "--hierarchy", "hierarchy_file", metavar="FILE",
    help="hierarchy JSON (default: HIERARCHY_FILE, built from WordNet when missing)")
classes_option = click.option(
    "--classes", metavar="FILE_OR_DIR",
    help="class list when building: a file of wnids or a dataset folder (default: ImageNet-1k)")


@bp.cli.command("seed")
@hierarchy_option
@classes_option
def seed_command(hierarchy_file, classes) -> None:
    """Seed classes, synsets, edges and chains from a hierarchy (idempotent)."""
    _seed(hierarchy_file, classes)


@bp.cli.command("fill-counts")
@click.option("--provider", default=None,
              help="search-count provider (default: COUNT_PROVIDER, normally wordfreq)")
@click.option("--retry-failed", is_flag=True, help="also retry terms whose last fetch failed")
def fill_counts_command(provider, retry_failed) -> None:
    """Fill the search-count cache for every synset; resumes where it stopped."""
    _fill(provider or current_app.config["COUNT_PROVIDER"], retry_failed)


@bp.cli.command("setup")
@hierarchy_option
@classes_option
def setup_command(hierarchy_file, classes) -> None:
    """Everything `make run` needs: migrate, seed, fill the offline counts."""
    try:
        upgrade()
    except OperationalError as exc:
        _fail(f"cannot reach the database {current_app.config['SQLALCHEMY_DATABASE_URI']!r}: "
              f"{exc.orig}. Check DATABASE_URL and that the server is running.")
    _seed(hierarchy_file, classes)
    _fill(current_app.config["COUNT_PROVIDER"], retry_failed=False)
