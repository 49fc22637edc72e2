"""Fixtures shared by all test folders: WordNet and hierarchies built once per session."""

from __future__ import annotations

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


@pytest.fixture(scope="session")
def wordnet():
    return ensure_wordnet(allow_download=False)


@pytest.fixture(scope="session")
def imagenet_hierarchy(wordnet) -> Hierarchy:
    return Hierarchy.from_wordnet(imagenet1k_wnids(), wordnet)


@pytest.fixture(scope="session")
def small_hierarchy(wordnet) -> Hierarchy:
    return Hierarchy.from_wordnet(SMALL_CLASSES, wordnet)
