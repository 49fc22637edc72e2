"""The aggregation's fast paths (written for ImageNet-21k's size) against the rules
written out plainly, on random votes with ties, suggestions and priors: a change to
a fast path that alters any result fails here. The full-size check is
`benchmarks/aggregate_21k.py --compare`."""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import replace
from datetime import timedelta

from clustering.aggregate import Confident
from clustering.agreement import agreement_summary, krippendorff_alpha_nominal
from clustering.cil import normalize_name, plain_lemmas
from clustering.confidence import PRIOR_MIX, RELIABILITY_PRIOR, belief, team_skills
from clustering.votes import Decision, Vote

from .toy_hierarchy import toy_hierarchy
from .wnids import START

ANNOTATORS = ("ann", "bea", "cem", "dia", "eli")


def _random_votes(rng: random.Random, chains: dict[str, list[str]]) -> list[Vote]:
    """Up to five annotators per class, few candidates each (ties are common), some
    with the suggestion shown (the class's second candidate)."""
    votes = []
    for wnid, chain in chains.items():
        for annotator in rng.sample(ANNOTATORS, rng.randint(0, len(ANNOTATORS))):
            label = rng.choice(chain[-3:])
            shown = chain[-2] if len(chain) > 1 and rng.random() < 0.4 else None
            time = START + timedelta(seconds=len(votes))
            votes.append(Vote(annotator, wnid, label, time, None, shown))
    return votes


def _reference_skills(votes: list[Vote]) -> tuple[dict[str, float], dict[str, int]]:
    """Reliability as the module's docstring says it: a vote agrees when it equals the
    leading label of the *other* votes on its class, where they have a clear leader."""
    agreed: Counter[str] = Counter()
    judged: Counter[str] = Counter()
    for vote in votes:
        others = Counter(v.label for v in votes if v.wnid == vote.wnid and v is not vote)
        ranked = others.most_common()
        if not ranked or (len(ranked) > 1 and ranked[1][1] == ranked[0][1]):
            continue
        judged[vote.annotator] += 1
        agreed[vote.annotator] += vote.label == ranked[0][0]
    a, b = RELIABILITY_PRIOR
    names = sorted({v.annotator for v in votes})
    return {n: (agreed[n] + a) / (judged[n] + a + b) for n in names}, {n: judged[n] for n in names}


def _reference_belief(candidates, votes, skills, prior) -> dict[str, float]:
    """P(l | votes) term by term, as the module's docstring writes it."""
    k = len(candidates)
    weights = {}
    for w in candidates:
        p = PRIOR_MIX / k + (1 - PRIOR_MIX) * (prior.get(w, 0.0) if prior else 1 / k)
        for vote in votes:
            r = min(max(skills.r(vote.annotator), 1e-6), 1 - 1e-6)
            independent = r if vote.label == w else (1 - r) / (k - 1)
            q = skills.q(vote.annotator) if vote.suggestion == vote.label else 0.0
            p *= q + (1 - q) * independent
        weights[w] = p
    total = sum(weights.values())
    return {w: p / total for w, p in weights.items()}


def _chains(hierarchy) -> dict[str, list[str]]:
    return {c.wnid: hierarchy.chain_wnids(c.wnid) for c in hierarchy.classes}


def test_team_skills_and_beliefs_match_the_rules_written_out():
    hierarchy = toy_hierarchy()
    chains = _chains(hierarchy)
    for seed in range(20):
        rng = random.Random(seed)
        votes = _random_votes(rng, chains)
        suggestions = {w: chain[-2] for w, chain in chains.items() if len(chain) > 1}
        skills = team_skills(votes, suggestions)
        reliability, judged = _reference_skills(votes)
        assert skills.reliability == reliability
        assert skills.judged == judged
        for wnid, chain in chains.items():
            class_votes = [v for v in votes if v.wnid == wnid]
            raw = {w: rng.random() for w in chain}
            prior = {w: p / sum(raw.values()) for w, p in raw.items()} if seed % 2 else None
            got = belief(chain, class_votes, skills, prior).probabilities
            want = _reference_belief(chain, class_votes, skills, prior)
            assert got.keys() == want.keys()
            assert all(math.isclose(got[w], want[w], rel_tol=1e-9, abs_tol=1e-12) for w in got)


def test_confident_outcomes_carry_their_labels_belief():
    """Voted classes take the most probable candidate, decided and undecided ones keep
    theirs; each outcome's confidence is that label's probability, its tallies the votes."""
    hierarchy = toy_hierarchy()
    chains = _chains(hierarchy)
    rng = random.Random(7)
    votes = _random_votes(rng, chains)
    decided_class = next(w for w in chains if any(v.wnid == w for v in votes))
    decision = Decision("admin", decided_class, chains[decided_class][0], START)
    aggregator = Confident(hierarchy, min_votes=2).fit(votes, [decision])
    statuses = Counter(o.status for o in aggregator.outcomes_.values())
    assert statuses["voted"] and statuses["undecided"] and statuses["decided"] == 1
    for wnid, outcome in aggregator.outcomes_.items():
        class_votes = [v for v in votes if v.wnid == wnid]
        assert outcome.votes == dict(Counter(v.label for v in class_votes))
        assert outcome.scores == {label: float(n) for label, n in outcome.votes.items()}
        if not class_votes:
            assert outcome.confidence is None
            continue
        probabilities = _reference_belief(chains[wnid], class_votes, aggregator.skills_, None)
        if outcome.status == "decided":
            assert outcome.label == decision.label
        elif outcome.status == "undecided":
            assert outcome.label == wnid and len(class_votes) < 2
        else:
            best = max(probabilities.values())
            assert math.isclose(probabilities[outcome.label], best, rel_tol=1e-9)
        assert math.isclose(outcome.confidence, probabilities[outcome.label], rel_tol=1e-9)


def test_agreement_summary_alpha_is_krippendorffs_on_the_classes_votes():
    hierarchy = toy_hierarchy()
    votes = _random_votes(random.Random(3), _chains(hierarchy))
    by_class: dict[str, list[str]] = {}
    for vote in votes:
        by_class.setdefault(vote.wnid, []).append(vote.label)
    summary = agreement_summary(votes, {})
    assert summary["krippendorff_alpha_nominal"] == krippendorff_alpha_nominal(by_class.values())
    assert summary["alpha_classes"] == sum(len(labels) >= 2 for labels in by_class.values())


def test_plain_lemmas_are_kept_per_hierarchy():
    """Two hierarchies with one wnid named differently each read their own lemmas."""
    first, second = toy_hierarchy(), toy_hierarchy()
    wnid = first.classes[0].wnid
    synset = second.synsets[wnid]
    second.synsets[wnid] = replace(synset, lemmas=("Other_Name",))
    assert plain_lemmas(first, wnid) == {normalize_name(x) for x in synset.lemmas}
    assert plain_lemmas(second, wnid) == {"other name"}
