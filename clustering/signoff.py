"""A label set signed off from human labels, through the survey's own pipeline.

Any CIL's labels (by default the original project's published ones) become the
votes of `voters` annotators who agree on every class; `aggregate` proposes a
settlement for each conflict among them (the `votes` policy: keep or merge each
specific label, whichever satisfies more votes); each proposal is accepted as a
label decision in `admin`'s name, as an admin's "Accept all" does in the
survey; and the aggregation is run again with those decisions. The result is
what a team would export after signing off: every choice is a recorded
decision in the CIL's provenance, and the CIL is valid.

Classes whose label is no synset on their chain (22 of the published labels,
such as car wheel -> "car") get no votes, and so keep their own synset.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from clustering.aggregate import Aggregation, aggregate
from clustering.cil import read_cil_json
from clustering.hierarchy import Hierarchy
from clustering.human_labels import HumanLabels, published_labels_path, read_human_labels
from clustering.votes import LabelDecision, Vote

__all__ = ["SIGNOFF_ADMIN", "SIGNOFF_TIME", "accept_proposals", "labels_as_votes", "signed_off"]

SIGNOFF_ADMIN = "signoff"
# The published labels' release (version 3, June 2021): a fixed time keeps a rebuild
# identical but for its creation time.
SIGNOFF_TIME = datetime(2021, 6, 1, tzinfo=UTC)
ACCEPTED_PROPOSAL = "accepted the proposed resolution"  # the note of such a label decision


def labels_as_votes(
    labels: dict[str, str], voters: int = 3, time: datetime = SIGNOFF_TIME
) -> list[Vote]:
    """One vote per class and voter ("voter-1", ...), each for the class's label."""
    if voters < 1:
        raise ValueError(f"voters must be at least 1, got {voters}")
    return [
        Vote(f"voter-{number}", wnid, label, time)
        for wnid, label in sorted(labels.items())
        for number in range(1, voters + 1)
    ]


def accept_proposals(
    result: Aggregation, admin: str = SIGNOFF_ADMIN, time: datetime = SIGNOFF_TIME
) -> list[LabelDecision]:
    """A label decision per open conflict group, settling it as `result` proposes."""
    resolution = result.resolution
    return [
        LabelDecision(admin, group.general, *resolution.split(group), time, note=ACCEPTED_PROPOSAL)
        for group in resolution.groups
        if not group.settled
    ]


def signed_off(
    hierarchy: Hierarchy,
    labels: str | Path | None = None,
    voters: int = 3,
    admin: str = SIGNOFF_ADMIN,
) -> tuple[Aggregation, HumanLabels]:
    """The signed-off aggregation of the human labels in `labels` (None: the published
    ones), and those labels as read (with the classes left out as off their chain)."""
    human = read_human_labels(labels, hierarchy)
    votes = labels_as_votes(human.labels, voters)
    source = f"{human.source} as {voters} unanimous voters"
    proposed = aggregate(hierarchy, votes, source=source)
    decisions = accept_proposals(proposed, admin)
    result = aggregate(hierarchy, votes, decisions, source=source)
    _explain_off_chain(result, human, labels)
    result.cil.provenance["signoff"] = {
        "labels": human.source,
        "voters": voters,
        "admin": admin,
        "accepted_proposals": len(decisions),
        "off_chain": list(human.off_chain),
        "description": (
            f"{human.source}'s labels as {voters} unanimous voters, each label conflict "
            "settled by accepting its proposed resolution"
        ),
    }
    return result, human


def _explain_off_chain(result: Aggregation, human: HumanLabels, labels: str | Path | None) -> None:
    """Say, for each class left without votes, why: its label is off its chain."""
    data = read_cil_json(published_labels_path() if labels is None else labels)
    named = {c["wnid"]: c["label_name"] for c in data["classes"]} if "format" in data else data
    off_chain = set(human.off_chain)
    result.cil.classes = [
        replace(
            entry,
            reason=f"its label in {human.source}, {named[entry.wnid]!r}, is no synset on its "
            "chain, so it has no votes and keeps its own label",
        )
        if entry.wnid in off_chain
        else entry
        for entry in result.cil.classes
    ]
