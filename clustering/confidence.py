"""How sure a class's votes make its label: the survey queue's closing rule and the
export's aggregation read the same numbers from here.

For a class whose chain holds K candidates, the probability that people name it
by candidate l, given votes v_1..v_n cast by annotators a_1..a_n, is

    P(l | votes) = pi(l) * prod_i L_i(l) / sum over candidates m of pi(m) * prod_i L_i(m)

    L_i(l) = r_a                    where v_i = l        (a "one-coin" annotator: right
           = (1 - r_a) / (K - 1)    otherwise             with probability r_a, else any
                                                          other candidate alike)

and, for a vote cast while the suggestion s was shown and equal to it,

    L_i(l) = q_a + (1 - q_a) * [the line above]

- pi is the prior: the entry-level model's softmax over the chain, mixed with the
  uniform (`PRIOR_MIX` of it is uniform), which bounds how far the model can lean
  (no candidate below PRIOR_MIX / K); a uniform prior where there is no model.
- r_a, the annotator's reliability, is learned from agreement as Wawa does, with a
  prior: (agreed + RELIABILITY_PRIOR[0]) / (votes + sum(RELIABILITY_PRIOR)), where a
  vote agrees when it equals the leading label of the *other* votes on its class
  (classes where the others have a clear leader only). An annotator without such
  votes has the prior's mean, 0.8.
- q_a, how often the annotator takes a shown suggestion without judging it, is what
  keeps the model's prior from entering twice: a vote that only accepted the
  suggestion is no evidence beyond the prior. It is the share by which their votes
  equal the suggestion more often when it was shown than when it was hidden,
  (shown_share - hidden_share) / (1 - hidden_share), each share smoothed towards the
  team's (`ANCHOR_PSEUDO_VOTES`), at least 0. Where the team cast no vote with the
  suggestion hidden, there is nothing to compare, and every annotator's q_a is
  `ANCHOR_UNKNOWN` rather than 0: an accepted suggestion is not taken at face value.

A class *closes* once it has at least `min_votes` votes, at least `min_votes` of them
for its leading label (votes that disagree get more votes), and its leading label's
probability reaches `target`; or once it has `max_votes` votes. A class that reached
`max_votes` below `target` is *unsure* and goes to the admin's queue. With
`min_votes` 1, a leading label with one vote closes a class only where that vote's
annotator is *known*: their r_a rests on at least `KNOWN_AFTER` votes compared with
others' (until then r_a is mostly the prior's guess, and a new team's first classes
get the second votes that give the pilot its agreement figures).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from clustering.votes import Vote

__all__ = [
    "ANCHOR_UNKNOWN",
    "DEFAULT_MAX_VOTES",
    "DEFAULT_MIN_VOTES",
    "DEFAULT_TARGET",
    "KNOWN_AFTER",
    "PRIOR_MIX",
    "RELIABILITY_PRIOR",
    "Belief",
    "ClosingRule",
    "TeamSkills",
    "belief",
    "log_prior",
    "probabilities",
    "team_skills",
    "unnormalized",
    "vote_terms",
]

PRIOR_MIX = 0.5  # the share of the prior that is uniform over the chain
RELIABILITY_PRIOR = (4.0, 1.0)  # Beta pseudo-votes (agreed, disagreed): a mean of 0.8
ANCHOR_PSEUDO_VOTES = 10.0  # how many votes' worth the team's share weighs in each one's
# q_a where no vote was cast with the suggestion hidden: the share of shown-and-accepted
# votes that the team simulation's annotators took unjudged (benchmarks/simulate_team.py).
ANCHOR_UNKNOWN = 0.3
# The closing rule's defaults, chosen by the team simulation with a prior that never saw
# the truth (benchmarks/simulate_team.py; benchmarks/results/simulate-team-2026-12-07.md):
# 1-5 at 0.8 used 31 % fewer votes than fixed 3 and exported 92.5 % right against 89.9 %.
DEFAULT_MIN_VOTES = 1
DEFAULT_MAX_VOTES = 5
DEFAULT_TARGET = 0.8
# Votes compared with others' an annotator needs before one vote of theirs closes a class:
# their r_a then rests 80 % on their own votes (RELIABILITY_PRIOR weighs 5).
KNOWN_AFTER = 20


@dataclass(frozen=True)
class ClosingRule:
    """When a class has votes enough: see the module's docstring."""

    min_votes: int = DEFAULT_MIN_VOTES
    max_votes: int = DEFAULT_MAX_VOTES
    target: float = DEFAULT_TARGET

    def __post_init__(self) -> None:
        problems = []
        for name in ("min_votes", "max_votes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                problems.append(f"{name} must be a whole number of at least 1, got {value!r}")
        if not problems and self.min_votes > self.max_votes:
            problems.append(
                f"min_votes ({self.min_votes}) must not be above max_votes ({self.max_votes})"
            )
        if not isinstance(self.target, int | float) or not 0.5 < self.target < 1:
            problems.append(f"target must lie strictly between 0.5 and 1, got {self.target!r}")
        if problems:
            raise ValueError("; ".join(problems))

    def closed(
        self, n_votes: int, confidence: float, leader_votes: int, lone_voter_known: bool = True
    ) -> bool:
        """Whether a class with `n_votes` votes, `leader_votes` of them for its leading
        label (whose probability is `confidence`), needs no more; a leading label with
        one vote closes it only if that vote's annotator is known (`TeamSkills.known`)."""
        return n_votes >= self.max_votes or (
            leader_votes >= self.min_votes
            and confidence >= self.target
            and (leader_votes > 1 or lone_voter_known)
        )

    def unsure(self, n_votes: int, confidence: float) -> bool:
        """Closed for want of more votes allowed, not by agreement: an admin's to settle."""
        return n_votes >= self.max_votes and confidence < self.target


@dataclass(frozen=True)
class TeamSkills:
    """Per annotator: reliability r_a and suggestion anchoring q_a (module docstring)."""

    reliability: dict[str, float]
    anchoring: dict[str, float]
    # Per annotator: (votes equal to the suggestion, votes) when it was shown and when not.
    suggestion_shares: dict[str, dict[str, tuple[int, int]]]
    unknown_anchoring: float = 0.0  # q_a of an annotator the shares say nothing of
    # Per annotator: their votes compared with the leading label of others' votes.
    judged: dict[str, int] = field(default_factory=dict)

    def r(self, annotator: str) -> float:
        return self.reliability.get(annotator, _prior_mean())

    def known(self, annotator: str) -> bool:
        """Whether r_a rests on `KNOWN_AFTER` compared votes, so one vote may close a class."""
        return self.judged.get(annotator, 0) >= KNOWN_AFTER

    def q(self, annotator: str) -> float:
        return self.anchoring.get(annotator, self.unknown_anchoring)


def _prior_mean() -> float:
    agreed, disagreed = RELIABILITY_PRIOR
    return agreed / (agreed + disagreed)


def team_skills(votes: Iterable[Vote], suggestions: Mapping[str, str] | None = None) -> TeamSkills:
    """Reliability and anchoring of every annotator from the counted votes (each
    annotator's latest per class); `suggestions` (class -> the model's suggestion)
    tells, for votes cast with it hidden, whether they equal it anyway."""
    by_class: dict[str, list[Vote]] = defaultdict(list)
    for vote in votes:
        by_class[vote.wnid].append(vote)
    agreed: Counter[str] = Counter()
    judged: Counter[str] = Counter()
    for class_votes in by_class.values():
        if len(class_votes) < 2:
            continue  # no others to agree with
        # The others' tally is the class's less the vote itself: counted once per class
        # (in a plain dict: a Counter's set-up per class cost more than the counting).
        counts: dict[str, int] = {}
        for vote in class_votes:
            counts[vote.label] = counts.get(vote.label, 0) + 1
        if len(counts) == 1:  # unanimous: each vote is the others' one label, as most are
            for vote in class_votes:
                judged[vote.annotator] += 1
                agreed[vote.annotator] += 1
            continue
        for vote in class_votes:
            leader, top, second = None, 0, 0
            for label, n in counts.items():
                n -= label == vote.label
                if n > top:
                    leader, top, second = label, n, top
                elif n > second:
                    second = n
            if second == top:
                continue  # the others tie: no leader to agree with
            judged[vote.annotator] += 1
            agreed[vote.annotator] += vote.label == leader
    a, b = RELIABILITY_PRIOR
    annotators = {v.annotator for vs in by_class.values() for v in vs}
    reliability = {name: (agreed[name] + a) / (judged[name] + a + b) for name in sorted(annotators)}
    shares = _suggestion_shares(by_class.values(), suggestions or {})
    hidden = any("hidden" in kinds for kinds in shares.values())
    return TeamSkills(
        reliability,
        _anchoring(shares),
        shares,
        0.0 if hidden else ANCHOR_UNKNOWN,
        {name: judged[name] for name in sorted(annotators)},
    )


def _suggestion_shares(
    by_class: Iterable[list[Vote]], suggestions: Mapping[str, str]
) -> dict[str, dict[str, tuple[int, int]]]:
    counts: dict[str, dict[str, list[int]]] = {}
    for class_votes in by_class:
        for vote in class_votes:
            if vote.suggestion is not None:
                kind, equal = "shown", vote.label == vote.suggestion
            elif vote.wnid in suggestions:
                kind, equal = "hidden", vote.label == suggestions[vote.wnid]
            else:
                continue
            tally = counts.setdefault(vote.annotator, {}).setdefault(kind, [0, 0])
            tally[0] += equal
            tally[1] += 1
    return {
        name: {kind: (t[0], t[1]) for kind, t in kinds.items()} for name, kinds in counts.items()
    }


def _anchoring(shares: dict[str, dict[str, tuple[int, int]]]) -> dict[str, float]:
    """q_a per annotator with shown votes: the excess of their shown share over their
    hidden share, each smoothed towards the team's."""
    team = {
        kind: (
            sum(s.get(kind, (0, 0))[0] for s in shares.values()),
            sum(s.get(kind, (0, 0))[1] for s in shares.values()),
        )
        for kind in ("shown", "hidden")
    }
    if not team["hidden"][1] or not team["shown"][1]:
        return {}  # nothing to compare with: every vote counts as independent
    team_share = {kind: equal / n for kind, (equal, n) in team.items()}
    anchoring = {}
    for name, kinds in shares.items():
        if "shown" not in kinds:
            continue
        share = {
            kind: (kinds.get(kind, (0, 0))[0] + ANCHOR_PSEUDO_VOTES * team_share[kind])
            / (kinds.get(kind, (0, 0))[1] + ANCHOR_PSEUDO_VOTES)
            for kind in ("shown", "hidden")
        }
        if share["hidden"] >= 1:
            anchoring[name] = 0.0
            continue
        anchoring[name] = max(0.0, (share["shown"] - share["hidden"]) / (1 - share["hidden"]))
    return anchoring


@dataclass(frozen=True)
class Belief:
    """The probability of each candidate of one class, given its votes."""

    probabilities: dict[str, float]  # candidate wnid -> probability, summing to 1

    @property
    def leader(self) -> str:
        """The most probable candidate (ties: the lowest wnid)."""
        return min(self.probabilities, key=lambda w: (-self.probabilities[w], w))

    @property
    def confidence(self) -> float:
        return self.probabilities[self.leader]


def belief(
    candidates: Sequence[str],
    votes: Iterable[Vote],
    skills: TeamSkills,
    prior: Mapping[str, float] | None = None,
) -> Belief:
    """P(l | votes) for every candidate l of one class (module docstring); `prior` is
    the model's distribution over `candidates` (None: uniform), mixed with the uniform."""
    terms = [(vote.label, *vote_terms(vote, skills, len(candidates))) for vote in votes]
    found = probabilities(candidates, log_prior(candidates, prior), terms)
    return Belief(dict(zip(candidates, found, strict=True)))


def log_prior(candidates: Sequence[str], prior: Mapping[str, float] | None) -> list[float]:
    """log pi(l) for each candidate: `prior` (None: uniform) mixed with the uniform."""
    uniform = 1.0 / len(candidates)
    return [
        math.log(PRIOR_MIX * uniform + (1 - PRIOR_MIX) * (prior.get(w, 0.0) if prior else uniform))
        for w in candidates
    ]


def vote_terms(vote: Vote, skills: TeamSkills, k: int) -> tuple[float, float]:
    """(log L_i of the vote's label, log L_i of every other candidate) among `k`: a
    vote's likelihood takes these two values only."""
    r = min(max(skills.r(vote.annotator), 1e-6), 1 - 1e-6)
    wrong = (1 - r) / (k - 1) if k > 1 else 0.0
    q = skills.q(vote.annotator) if vote.suggestion == vote.label else 0.0
    return math.log(q + (1 - q) * r), math.log(q + (1 - q) * wrong) if wrong or q else -1e9


def probabilities(
    candidates: Sequence[str], log_prior: Sequence[float], terms: Iterable[tuple[str, float, float]]
) -> list[float]:
    """P(l | votes) for each candidate, from its `log_prior` and each vote's
    (label, `vote_terms`), added in the votes' order."""
    weights, total = unnormalized(candidates, log_prior, terms)
    return [weight / total for weight in weights]


def unnormalized(
    candidates: Sequence[str], log_prior: Sequence[float], terms: Iterable[tuple[str, float, float]]
) -> tuple[list[float], float]:
    """(each candidate's weight, their sum): its probability is weight / sum. The most
    probable candidate's weight is exactly 1."""
    log_p = []
    for w, value in zip(candidates, log_prior, strict=True):
        for label, right, other in terms:
            value += right if label == w else other
        log_p.append(value)
    top = max(log_p)
    weights = [math.exp(value - top) for value in log_p]
    return weights, sum(weights)
