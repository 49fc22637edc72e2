"""The package's one error base, and its one "list of problems" message."""

from __future__ import annotations

import pytest

from clustering.cil import CILFormatError
from clustering.cli import CommandError
from clustering.conflicts import CollapseError, ConflictError
from clustering.confusion import ModelFileError
from clustering.dbread import DatabaseError
from clustering.entry_level import ModelError
from clustering.errors import ClusteringError
from clustering.hierarchy import ClassListError, HierarchyFormatError
from clustering.popularity import CountError, ProviderConfigError
from clustering.tree_cut import TreeFormatError
from clustering.votes import VotesError
from clustering.wordnet import WordNetUnavailable

# Callers outside the package (the survey app, the trainer) catch these builtin bases.
VALUE_ERRORS = (
    CILFormatError,
    VotesError,
    ConflictError,
    CollapseError,
    ModelFileError,
    ModelError,
    ClassListError,
    HierarchyFormatError,
    TreeFormatError,
    ProviderConfigError,
)
RUNTIME_ERRORS = (DatabaseError, WordNetUnavailable)


@pytest.mark.parametrize("error", [*VALUE_ERRORS, *RUNTIME_ERRORS, CountError, CommandError])
def test_every_error_derives_from_the_one_base(error):
    assert issubclass(error, ClusteringError)


def test_errors_keep_the_builtin_base_their_callers_catch():
    assert all(issubclass(error, ValueError) for error in VALUE_ERRORS)
    assert all(issubclass(error, RuntimeError) for error in RUNTIME_ERRORS)


def test_a_list_of_problems_shows_the_first_thirty_and_counts_the_rest():
    error = VotesError("votes.jsonl", [f"line {n}: bad" for n in range(1, 33)])
    lines = str(error).splitlines()
    assert lines[:3] == ["votes.jsonl: 32 problem(s):", "  - line 1: bad", "  - line 2: bad"]
    assert lines[30:] == ["  - line 30: bad", "  ... and 2 more"]
    assert (error.source, len(error.problems)) == ("votes.jsonl", 32)


def test_a_cil_format_error_has_its_own_headline_and_shows_fifty():
    error = CILFormatError("x.json", [f"problem {n}" for n in range(1, 52)])
    lines = str(error).splitlines()
    assert lines[:2] == ["x.json is not a valid CIL file:", "  - problem 1"]
    assert lines[50:] == ["  - problem 50", "  ... and 1 more"]
    assert str(CILFormatError("x.json", ["one"])) == "x.json is not a valid CIL file:\n  - one"
