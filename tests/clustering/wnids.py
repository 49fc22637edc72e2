"""Names for the wnids the clustering tests use, and a short way to write a vote."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from clustering.votes import Decision, Vote

# The classes of the session fixture `small_hierarchy`.
TENCH = "n01440764"
GOLDFISH = "n01443537"
OSTRICH = "n01518878"
BRAMBLING = "n01530575"
CRANE_BIRD = "n02012849"
DALMATIAN = "n02110341"  # two hypernym paths: via "domestic animal" and via "canine"
PUG = "n02110958"
CRANE_MACHINE = "n03126707"
SCHOOL_BUS = "n04146614"
TROLLEYBUS = "n04487081"
# Two more ImageNet classes, both called "panda" among other names.
LESSER_PANDA = "n02509815"
GIANT_PANDA = "n02510455"
CHIHUAHUA = "n02085620"

# Synsets on their chains.
ENTITY = "n00001740"
ANIMAL = "n00015388"
VERTEBRATE = "n01471682"
FISH = "n02512053"
CYPRINID = "n01439121"
BIRD = "n01503061"
RATITE = "n01517565"
FINCH = "n01529672"
MAMMAL = "n01861778"
CANINE = "n02083346"
DOG = "n02084071"
DOMESTIC_ANIMAL = "n01317541"
LIFTING_DEVICE = "n03664675"
BUS = "n02924116"
PUBLIC_TRANSPORT = "n04019101"

START = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def vote(
    annotator: str, wnid: str, label: str, minute: int = 0, comment: str | None = None
) -> Vote:
    return Vote(annotator, wnid, label, START + timedelta(minutes=minute), comment)


def decision(wnid: str, label: str, minute: int = 0, admin: str = "admin") -> Decision:
    return Decision(admin, wnid, label, START + timedelta(minutes=minute))
