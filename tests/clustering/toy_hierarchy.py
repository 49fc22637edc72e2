"""A small hand-made hierarchy for tests where WordNet is not the point.

Eight classes under invented wnids: two fish, three dogs, two buses and a car, with
"animal" and "vehicle" between them and the root. Every answer about it can be read
off the tree below.

    entity
    ├── animal
    │   ├── fish: tench, goldfish
    │   └── dog: husky, malamute, pug
    └── vehicle
        ├── bus: school bus, trolleybus
        └── car
"""

from __future__ import annotations

from collections.abc import Iterable

from clustering.hierarchy import ChainEntry, Hierarchy, ImageClass, Synset

ENTITY, ANIMAL, FISH, DOG, VEHICLE, BUS = (f"n0000000{i}" for i in range(1, 7))
TENCH, GOLDFISH, HUSKY, MALAMUTE, PUG, SCHOOL_BUS, TROLLEYBUS, CAR = (
    f"n000000{i}" for i in range(11, 19)
)
CLASSES = (TENCH, GOLDFISH, HUSKY, MALAMUTE, PUG, SCHOOL_BUS, TROLLEYBUS, CAR)
# Each class under its nearest group: fish, dog, bus, and the car its own label (its
# parent, vehicle, lies above the buses' label).
BASIC_LABELS = {
    TENCH: FISH,
    GOLDFISH: FISH,
    HUSKY: DOG,
    MALAMUTE: DOG,
    PUG: DOG,
    SCHOOL_BUS: BUS,
    TROLLEYBUS: BUS,
    CAR: CAR,
}

NAMES = {
    ENTITY: "entity",
    ANIMAL: "animal",
    FISH: "fish",
    DOG: "dog",
    VEHICLE: "vehicle",
    BUS: "bus",
    TENCH: "tench",
    GOLDFISH: "goldfish",
    HUSKY: "husky",
    MALAMUTE: "malamute",
    PUG: "pug",
    SCHOOL_BUS: "school_bus",
    TROLLEYBUS: "trolleybus",
    CAR: "car",
}
PARENTS = {
    ANIMAL: (ENTITY,),
    VEHICLE: (ENTITY,),
    FISH: (ANIMAL,),
    DOG: (ANIMAL,),
    BUS: (VEHICLE,),
    TENCH: (FISH,),
    GOLDFISH: (FISH,),
    HUSKY: (DOG,),
    MALAMUTE: (DOG,),
    PUG: (DOG,),
    SCHOOL_BUS: (BUS,),
    TROLLEYBUS: (BUS,),
    CAR: (VEHICLE,),
}


def _path(wnid: str) -> list[str]:
    """Root first; every node of the toy tree has one parent."""
    return [*_path(PARENTS[wnid][0]), wnid] if wnid in PARENTS else [wnid]


def toy_hierarchy(classes: Iterable[str] = CLASSES) -> Hierarchy:
    """The tree above; `classes` may add inner nodes as classes (DOG: a class above
    husky, malamute and pug, as ImageNet-21k's "dog" lies above "beagle")."""
    synsets = {
        wnid: Synset(
            wnid, f"{name}.n.01", (name,), f"a {name.replace('_', ' ')}", len(_path(wnid)) - 1
        )
        for wnid, name in NAMES.items()
    }
    classes = [
        ImageClass(index, wnid, tuple(ChainEntry(w, (0,)) for w in _path(wnid)), 1)
        for index, wnid in enumerate(sorted(classes))
    ]
    return Hierarchy(synsets, dict(PARENTS), classes)
