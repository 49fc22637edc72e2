"""Hierarchies saved as JSON, for command-line tests: `--hierarchy FILE` spares
each command (and each subprocess) loading WordNet again."""

from __future__ import annotations

import pytest

from clustering.hierarchy import Hierarchy

from .toy_hierarchy import toy_hierarchy


@pytest.fixture(scope="session")
def small_hierarchy_file(small_hierarchy: Hierarchy, tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("hierarchy") / "small.json"
    small_hierarchy.save(path)
    return str(path)


@pytest.fixture(scope="session")
def imagenet_hierarchy_file(imagenet_hierarchy: Hierarchy, tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("hierarchy") / "imagenet.json"
    imagenet_hierarchy.save(path)
    return str(path)


@pytest.fixture(scope="session")
def toy_hierarchy_file(tmp_path_factory) -> str:
    """The hand-made hierarchy of `toy_hierarchy.py`, saved for `--hierarchy`."""
    path = tmp_path_factory.mktemp("hierarchy") / "toy.json"
    toy_hierarchy().save(path)
    return str(path)


@pytest.fixture
def session_wordnet(wordnet, monkeypatch):
    """Code that loads WordNet itself (a command building a hierarchy, a hierarchy getting
    its word facts) gets the session's reader instead of loading its own, seconds each."""
    monkeypatch.setattr("clustering.wordnet.ensure_wordnet", lambda *args, **kwargs: wordnet)


@pytest.fixture(scope="session")
def panda_hierarchy(wordnet) -> Hierarchy:
    """The small hierarchy and the two pandas, one name for two unrelated synsets."""
    from tests.conftest import SMALL_CLASSES

    return Hierarchy.from_wordnet([*SMALL_CLASSES, "n02509815", "n02510455"], wordnet)
