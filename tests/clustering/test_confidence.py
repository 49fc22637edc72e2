"""The confidence of a class's label: the formula by hand, reliability learned from
agreement on planted good and bad annotators, a suggestion counted once, and the
closing rule."""

from __future__ import annotations

import math
import random
from datetime import timedelta

import pytest

from clustering.confidence import (
    ANCHOR_UNKNOWN,
    KNOWN_AFTER,
    PRIOR_MIX,
    RELIABILITY_PRIOR,
    ClosingRule,
    TeamSkills,
    belief,
    team_skills,
)
from clustering.votes import Vote

from .wnids import START

CHAIN = ("root", "animal", "dog", "pug")  # candidates, root first


def vote(annotator, label, wnid="c", suggestion=None, minute=0):
    return Vote(annotator, wnid, label, START + timedelta(minutes=minute), None, suggestion)


def skills(r=0.8, q=0.0):
    return TeamSkills({"a": r, "b": r}, {"a": q, "b": q}, {})


def test_two_agreeing_votes_by_hand():
    # Uniform prior; r = 0.8 over K = 4 candidates: a vote is 0.8 for its label and
    # 0.2 / 3 for each other, so two votes for "dog" give 0.64 against (0.2/3)^2.
    believed = belief(CHAIN, [vote("a", "dog"), vote("b", "dog")], skills())
    right, wrong = 0.8**2, (0.2 / 3) ** 2
    assert believed.leader == "dog"
    assert math.isclose(believed.confidence, right / (right + 3 * wrong))


def test_the_prior_is_mixed_with_the_uniform():
    prior = {"root": 0.0, "animal": 0.0, "dog": 1.0, "pug": 0.0}
    believed = belief(CHAIN, [], skills(), prior)
    floor = PRIOR_MIX / len(CHAIN)
    assert math.isclose(believed.probabilities["pug"], floor)
    assert math.isclose(believed.probabilities["dog"], floor + (1 - PRIOR_MIX))


def test_a_vote_that_only_accepted_the_suggestion_counts_less():
    independent = belief(CHAIN, [vote("a", "dog")], skills(q=0.5))
    accepted = belief(CHAIN, [vote("a", "dog", suggestion="dog")], skills(q=0.5))
    assert accepted.confidence < independent.confidence
    # Fully anchored, it is no evidence at all: the prior alone.
    anchored = belief(CHAIN, [vote("a", "dog", suggestion="dog")], skills(q=1.0))
    assert math.isclose(anchored.confidence, 1 / len(CHAIN))


def test_reliability_is_learned_from_agreement_on_planted_annotators():
    # Four careful annotators and one who votes at random; the truth is "dog" on
    # every class, and each class gets every annotator's vote.
    rng = random.Random(0)
    votes = []
    for number in range(60):
        for name, accuracy in (("g1", 0.95), ("g2", 0.9), ("g3", 0.9), ("g4", 0.85)):
            label = "dog" if rng.random() < accuracy else rng.choice(("animal", "pug"))
            votes.append(vote(name, label, wnid=f"c{number}"))
        votes.append(vote("bad", rng.choice(CHAIN), wnid=f"c{number}"))
    learned = team_skills(votes).reliability
    assert min(learned[g] for g in ("g1", "g2", "g3", "g4")) > 0.75
    assert learned["bad"] < 0.4
    assert learned["g1"] > learned["g4"]
    # Nobody known: the prior's mean.
    agreed, disagreed = RELIABILITY_PRIOR
    assert team_skills([]).r("new") == agreed / (agreed + disagreed)


def test_anchoring_is_the_excess_of_the_shown_share_over_the_hidden_one():
    suggestions = {f"c{n}": "dog" for n in range(40)}
    votes = []
    for n in range(40):  # "a" takes the shown suggestion every time, "b" judges
        shown = n % 2 == 0
        votes.append(vote("a", "dog" if shown else "pug", f"c{n}", "dog" if shown else None))
        votes.append(vote("b", "pug", f"c{n}", "dog" if shown else None))
    learned = team_skills(votes, suggestions)
    assert learned.q("a") > 0.5 and learned.q("b") < 0.2  # b: only the smoothing
    assert learned.suggestion_shares["a"] == {"shown": (20, 20), "hidden": (0, 20)}
    # With no vote cast with the suggestion hidden there is nothing to compare: an
    # accepted suggestion is not taken at face value either.
    shown_only = team_skills([vote("a", "dog", "c0", "dog")], suggestions)
    assert shown_only.q("a") == ANCHOR_UNKNOWN


def test_the_closing_rule():
    rule = ClosingRule(2, 5, 0.8)
    assert not rule.closed(1, 0.99, 1)  # one vote is below the minimum
    assert rule.closed(2, 0.9, 2)  # two that agree, confident
    assert not rule.closed(2, 0.9, 1)  # two that disagree get more votes
    assert not rule.closed(4, 0.7, 3)
    assert rule.closed(5, 0.4, 2) and rule.unsure(5, 0.4)  # the most votes: the admin's
    assert not rule.unsure(5, 0.9)


def test_one_vote_closes_a_class_only_by_an_annotator_whose_reliability_is_measured():
    rule = ClosingRule(1, 5, 0.8)
    assert rule.closed(1, 0.9, 1) and not rule.closed(1, 0.9, 1, lone_voter_known=False)
    assert not rule.closed(1, 0.7, 1)  # known, but not confident enough
    # Two votes for the leader need no known annotator; nor does the most votes.
    assert rule.closed(2, 0.9, 2, lone_voter_known=False)
    assert rule.closed(5, 0.4, 1, lone_voter_known=False)
    # With two votes at least a lone leader never closes early, known or not.
    assert not ClosingRule(2, 5, 0.8).closed(3, 0.95, 1)


def test_an_annotator_is_known_once_enough_of_their_votes_were_compared():
    # "a" and "b" vote together on KNOWN_AFTER classes; "c" joins them on one fewer, and
    # "d" votes alone: nothing of theirs is compared with anyone's.
    votes = []
    for number in range(KNOWN_AFTER):
        for name in ("a", "b") + (("c",) if number else ()):
            votes.append(vote(name, "dog", wnid=f"c{number}"))
    votes.append(vote("d", "dog", wnid="alone"))
    learned = team_skills(votes)
    assert learned.judged == {"a": KNOWN_AFTER, "b": KNOWN_AFTER, "c": KNOWN_AFTER - 1, "d": 0}
    assert learned.known("a") and learned.known("b")
    assert not learned.known("c") and not learned.known("d") and not learned.known("new")


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ((3, 2, 0.9), "must not be above"),
        ((0, 2, 0.9), "at least 1"),
        ((2, 5, 0.5), "strictly between"),
        ((2, 5, 1.0), "strictly between"),
        ((True, 5, 0.9), "whole number"),
    ],
)
def test_closing_rules_out_of_range_are_refused(settings, message):
    with pytest.raises(ValueError, match=message):
        ClosingRule(*settings)
