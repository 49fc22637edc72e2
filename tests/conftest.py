"""Fixtures shared by all test folders: WordNet and hierarchies built once per
session; tests marked `postgres` skipped when no server answers."""

from __future__ import annotations

import functools
import socket

import pytest

from clustering.hierarchy import Hierarchy, imagenet1k_wnids
from clustering.wordnet import ensure_wordnet

# A few classes that exercise the awkward cases: several hypernym paths (dalmatian),
# two classes named "crane" (bird, machine), a label under another (ostrich, bird).
SMALL_CLASSES = [
    "n01440764",  # tench
    "n01443537",  # goldfish
    "n01518878",  # ostrich
    "n01530575",  # brambling
    "n02012849",  # crane (bird)
    "n02110341",  # dalmatian
    "n02110958",  # pug
    "n03126707",  # crane (machine)
    "n04146614",  # school bus
    "n04487081",  # trolleybus
]


POSTGRES_ADDRESS = ("127.0.0.1", 5432)  # where the `postgres` tests find the server
POSTGRES_HOST = "{}:{}".format(*POSTGRES_ADDRESS)


@functools.cache
def postgres_answers() -> bool:
    """Whether something listens where the `postgres` tests expect the server;
    asked once per session."""
    try:
        socket.create_connection(POSTGRES_ADDRESS, timeout=2).close()
    except OSError:
        return False
    return True


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("postgres") and not postgres_answers():
        pytest.skip(
            f"needs the PostgreSQL server at {POSTGRES_HOST}, which does not answer "
            "(start it with `pg_ctlcluster --skip-systemctl-redirect "
            "$(ls /etc/postgresql) main start`; CI runs one)"
        )


@pytest.fixture(scope="session")
def wordnet():
    return ensure_wordnet(allow_download=False)


@pytest.fixture(scope="session")
def imagenet_hierarchy(wordnet) -> Hierarchy:
    return Hierarchy.from_wordnet(imagenet1k_wnids(), wordnet)


@pytest.fixture(scope="session")
def small_hierarchy(wordnet) -> Hierarchy:
    return Hierarchy.from_wordnet(SMALL_CLASSES, wordnet)
