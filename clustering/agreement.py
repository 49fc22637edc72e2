"""How much the annotators agree: per class, overall, and per annotator.

Two chance-corrected measures for the whole survey, both on nominal data
(a vote's value is the chosen synset; nearness in the hierarchy earns nothing):

- Krippendorff's alpha: any number of coders per unit, missing votes allowed,
  so it uses every class with at least two votes. The primary figure.
- Fleiss' kappa: needs the same number of raters per subject, so it is
  computed over the classes with the most common number of votes (at least 2).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from clustering.votes import Vote

__all__ = [
    "AnnotatorAgreement",
    "agreement_summary",
    "annotator_agreement",
    "fleiss_kappa",
    "krippendorff_alpha_nominal",
]


def krippendorff_alpha_nominal(units: Iterable[Sequence[Hashable]]) -> float | None:
    """Krippendorff's alpha for nominal values; `units` holds, per unit, the values
    its coders gave (missing ones left out). Units with one value cannot be paired
    and are skipped. None where it is undefined: fewer than two pairable values, or
    only one value in all the data (no expected disagreement).

    alpha = 1 - (n - 1) * sum over units of (m_u^2 - sum_c m_uc^2) / (m_u - 1)
                / (n^2 - sum_c n_c^2),
    the coincidence-matrix form with m_u values in unit u, m_uc of them c, n_c
    pairable values c in all, n their total.
    """
    return _alpha_from_counts(Counter(values) for values in units if len(values) >= 2)


def _alpha_from_counts(units: Iterable[Mapping[Hashable, int]]) -> float | None:
    """`krippendorff_alpha_nominal` from each pairable unit's value counts."""
    observed = 0.0
    totals: dict[Hashable, int] = {}
    for counts in units:
        m = sum(counts.values())
        observed += (m * m - sum(k * k for k in counts.values())) / (m - 1)
        _add(totals, counts)
    n = sum(totals.values())
    expected = n * n - sum(k * k for k in totals.values())
    if n < 2 or expected == 0:
        return None
    return 1.0 - (n - 1) * observed / expected


def _add(totals: dict[Hashable, int], counts: Mapping[Hashable, int]) -> None:
    """`counts` added into `totals` (a Counter's update, without its set-up per call:
    21,843 classes at most)."""
    for value, k in counts.items():
        totals[value] = totals.get(value, 0) + k


def fleiss_kappa(subjects: Sequence[Mapping[Hashable, int]]) -> float | None:
    """Fleiss' kappa; each subject maps category -> number of raters who chose it,
    and every subject has the same number of raters (at least 2). None where it
    is undefined (no subjects, or one category for everything)."""
    if not subjects:
        return None
    raters = {sum(counts.values()) for counts in subjects}
    if len(raters) != 1:
        raise ValueError(
            f"Fleiss' kappa needs the same number of raters per subject, found {sorted(raters)}"
        )
    n = raters.pop()
    if n < 2:
        raise ValueError("Fleiss' kappa needs at least two raters per subject")
    observed = sum(
        (sum(k * k for k in counts.values()) - n) / (n * (n - 1)) for counts in subjects
    ) / len(subjects)
    totals: dict[Hashable, int] = {}
    for counts in subjects:
        _add(totals, counts)
    expected = sum((k / (n * len(subjects))) ** 2 for k in totals.values())
    if expected == 1:
        return None
    return (observed - expected) / (1 - expected)


@dataclass(frozen=True)
class AnnotatorAgreement:
    votes: int  # the annotator's counted votes on classes that have a consensus
    agreed: int  # of which equal to the consensus

    @property
    def share(self) -> float:
        return self.agreed / self.votes if self.votes else 0.0


def annotator_agreement(
    votes: Iterable[Vote], consensus: Mapping[str, str]
) -> dict[str, AnnotatorAgreement]:
    """Per annotator: how many of their votes equal the consensus label of the class
    (classes without one are left out). Pass counted (latest) votes."""
    tally: dict[str, list[int]] = {}
    for vote in votes:
        if vote.wnid in consensus:
            counts = tally.setdefault(vote.annotator, [0, 0])
            counts[0] += 1
            counts[1] += consensus[vote.wnid] == vote.label
    return {name: AnnotatorAgreement(n, agreed) for name, (n, agreed) in sorted(tally.items())}


def agreement_summary(votes: Sequence[Vote], consensus: Mapping[str, str]) -> dict[str, Any]:
    """The overall figures as plain JSON values: alpha, kappa (and over how many
    classes and raters), and each annotator's agreement with `consensus`."""
    by_class: dict[str, dict[str, int]] = {}
    for vote in votes:
        counts = by_class.setdefault(vote.wnid, {})
        counts[vote.label] = counts.get(vote.label, 0) + 1
    # Each pairable class's tally, made once for both figures (21,843 classes at most).
    pairable = [(n, counts) for counts in by_class.values() if (n := sum(counts.values())) >= 2]
    sizes = Counter(size for size, _ in pairable)
    raters = max(sizes, key=lambda size: (sizes[size], size)) if sizes else None
    kappa_subjects = [counts for size, counts in pairable if size == raters]
    return {
        "krippendorff_alpha_nominal": _alpha_from_counts(counts for _, counts in pairable),
        "alpha_classes": len(pairable),
        "fleiss_kappa": fleiss_kappa(kappa_subjects),
        "kappa_classes": len(kappa_subjects),
        "kappa_raters": raters,
        "annotators": {
            name: {"votes": a.votes, "agreed": a.agreed, "share": round(a.share, 4)}
            for name, a in annotator_agreement(votes, consensus).items()
        },
    }
