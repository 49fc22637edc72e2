"""Agreement measures checked against their textbook examples."""

from __future__ import annotations

import pytest

from clustering.agreement import (
    agreement_summary,
    annotator_agreement,
    fleiss_kappa,
    krippendorff_alpha_nominal,
)

from .wnids import BIRD, DOG, MAMMAL, OSTRICH, PUG, RATITE, vote


def test_krippendorff_alpha_matches_krippendorffs_example():
    """Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability": four
    observers, twelve units, missing values; nominal alpha = 0.743."""
    observers = [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
        [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
    ]
    units = [[v for v in unit if v is not None] for unit in zip(*observers, strict=True)]
    assert krippendorff_alpha_nominal(units) == pytest.approx(0.743, abs=5e-4)


def test_fleiss_kappa_matches_fleiss_example():
    """The worked example of Fleiss' kappa (Wikipedia, after Fleiss 1971): 10
    subjects, 14 raters, 5 categories; kappa = 0.210."""
    table = [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
    subjects = [{category: n for category, n in enumerate(row) if n} for row in table]
    assert fleiss_kappa(subjects) == pytest.approx(0.210, abs=5e-4)


def test_perfect_and_undefined_agreement():
    assert krippendorff_alpha_nominal([["a", "a"], ["b", "b", "b"]]) == 1.0
    assert krippendorff_alpha_nominal([["a", "a"], ["a"]]) is None  # one value: no variation
    assert krippendorff_alpha_nominal([["a"], ["b"]]) is None  # nothing pairable
    assert fleiss_kappa([{"a": 2}, {"b": 2}]) == 1.0
    assert fleiss_kappa([]) is None


def test_fleiss_kappa_refuses_uneven_raters():
    with pytest.raises(ValueError, match="same number of raters"):
        fleiss_kappa([{"a": 2}, {"a": 3}])


def test_annotator_agreement_with_the_consensus():
    votes = [
        vote("ann", PUG, DOG),
        vote("bob", PUG, MAMMAL),
        vote("ann", OSTRICH, BIRD),
        vote("bob", OSTRICH, BIRD),
        vote("cat", OSTRICH, RATITE),
    ]
    agreement = annotator_agreement(votes, {PUG: DOG, OSTRICH: BIRD})
    assert {name: (a.votes, a.agreed) for name, a in agreement.items()} == {
        "ann": (2, 2),
        "bob": (2, 1),
        "cat": (1, 0),
    }
    assert agreement["bob"].share == 0.5


def test_summary_uses_the_most_common_number_of_raters_for_kappa():
    votes = [
        vote("ann", PUG, DOG),
        vote("bob", PUG, DOG),
        vote("cat", PUG, DOG),
        vote("ann", OSTRICH, BIRD),
        vote("bob", OSTRICH, RATITE),
        vote("cat", OSTRICH, BIRD),
        vote("ann", "n01440764", "n01440764"),
        vote("bob", "n01440764", "n01440764"),
    ]
    summary = agreement_summary(votes, {PUG: DOG, OSTRICH: BIRD})
    assert (summary["kappa_classes"], summary["kappa_raters"], summary["alpha_classes"]) == (
        2,
        3,
        3,
    )
    assert summary["annotators"]["bob"] == {"votes": 2, "agreed": 1, "share": 0.5}
    assert 0 < summary["krippendorff_alpha_nominal"] < 1
