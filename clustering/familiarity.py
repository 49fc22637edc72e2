"""Sense-aware familiarity: a search count belongs to a synset, not to a string.

A provider counts words ("crane": 8.3M, mostly the machine). A synset's share of
its word's count follows WordNet's sense-tagged frequencies (`LemmaSense`):
crane the bird is the word's fifth noun sense and was never tagged, so it gets a
small share; "game" the animal is its fourth sense, behind three kinds of
contest. Untagged senses still get a share that falls with their rank
(`SMOOTHING` pseudo-counts spread as 1/rank), so a word whose senses were never
tagged is shared by WordNet's own sense order.

A synset's familiarity is that of its best lemma, not only its first: "car",
"auto" and "automobile" all name the car, and "domestic dog" is no word people
search for "dog".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from clustering.hierarchy import HierarchyFormatError, LemmaSense, Synset

__all__ = [
    "SMOOTHING",
    "Familiarity",
    "plain_term",
    "sense_share",
    "synset_familiarity",
    "terms_for_synset",
]

# Pseudo-counts added to a word's tagged senses, spread over its senses as 1/rank. One
# pseudo-count is about one sentence of the tagged corpus; larger values flatten the shares
# towards WordNet's sense order, smaller ones trust the few tags more.
SMOOTHING = 1.0


@dataclass(frozen=True)
class Familiarity:
    """A synset's familiarity: its best lemma's count times the sense's share."""

    count: int | None  # None where no lemma of the synset has a count
    lemma: str  # the lemma (in plain words) the count came from
    word_count: int | None  # that word's own count, before sharing
    share: float  # the synset's share of the word's count
    sense: LemmaSense  # that lemma's sense facts: rank among the word's senses, tagged counts


def terms_for_synset(lemmas: tuple[str, ...] | list[str]) -> list[str]:
    """The search terms of a synset: each lemma in plain words, in WordNet's order."""
    terms = [plain_term(lemma) for lemma in lemmas]
    return list(dict.fromkeys(t for t in terms if t))


def plain_term(lemma: str) -> str:
    """A lemma in plain words, as counts are looked up: `_` and runs of spaces as one
    space (case kept, unlike `clustering.cil.normalize_name`)."""
    return " ".join(lemma.replace("_", " ").split())


def sense_share(sense: LemmaSense, smoothing: float = SMOOTHING) -> float:
    """The share of a word's uses that mean this sense, smoothed by sense rank."""
    prior = 1.0 / sense.rank
    total_prior = sum(1.0 / rank for rank in range(1, sense.senses + 1))
    return (sense.tagged + smoothing * prior) / (sense.tagged_all + smoothing * total_prior)


def synset_familiarity(
    synset: Synset, term_counts: Mapping[str, int | None], smoothing: float = SMOOTHING
) -> Familiarity:
    """The familiarity of `synset` from counts per term (`terms_for_synset`'s terms).
    Ties go to the earlier lemma; a synset without word facts (a hierarchy saved
    before they were recorded) is refused, since its shares cannot be known."""
    if not synset.has_word_facts:
        raise HierarchyFormatError(
            f"synset {synset.wnid} has no WordNet sense facts; rebuild the hierarchy with "
            "`python -m clustering hierarchy --out FILE` (or load it with "
            "`Hierarchy.load_or_build`, which adds them)"
        )
    best: Familiarity | None = None
    for lemma, sense in zip(synset.lemmas, synset.senses, strict=True):
        term = plain_term(lemma)
        word_count = term_counts.get(term)
        if word_count is None:
            continue
        share = sense_share(sense, smoothing)
        candidate = Familiarity(round(word_count * share), term, word_count, share, sense)
        if best is None or candidate.count > best.count:
            best = candidate
    if best is None:
        return Familiarity(None, synset.label, None, 0.0, synset.senses[0])
    return best
