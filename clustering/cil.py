"""The CIL file: which label each ImageNet class is trained as.

Two formats are read and written:

- **rich** (what this project writes): a JSON object with sorted keys,
  `{"format": "cil", "format_version": 1, "classes": [...], "labels": [...],
  "provenance": {...}}`. Each class: `index`, `wnid`, `name`, `label_index`,
  `label_wnid`, `label_name`; each label: `index`, `wnid` (null when unknown),
  `name`, `members` (class wnids in class index order) and `other` (optional,
  false by default: true for "other <synset>", the synset less the file's
  labels below it). The label fields of a class repeat its label's, so a
  reader of one class needs nothing else; they must agree, and `read_cil`
  refuses a file where they do not.
- **flat** (the published CIL's): `{class wnid: label name}`. Labels are known
  only by name there, so a name can stand for two synsets ("panda") or for a
  synset off the class's hypernym chain; reading it with a hierarchy resolves
  each name on each class's chain so that `clustering.validate` can say so. A
  name that can mean two synsets on one chain ("printer": the printing machine
  and the computer printer below it) is refused, since the file does not say
  which; this project's names are qualified so that they read back to their
  synsets ("printer (printing machine)", see `unique_names`).

`read_cil` is strict about the shape of the file, about keys written twice in one
JSON object, members listed twice and ambiguous flat names (a `CILFormatError`
lists every problem) and lenient about the rest of its meaning: a file that misses
classes, breaks the partition rule, skips label indices or repeats a name still
reads, because the validator's job is to report all of that at once. A file that
does not read as JSON at all (missing, over `MAX_FILE_BYTES`, not UTF-8, nested
deeper than Python's parser goes, a number of more than `MAX_NUMBER_DIGITS` digits)
is a `CILReadError`, said on one line.

Names are compared as `normalize_name` writes them (case folded, any run of Unicode
spaces as one space, NFC), by every rule that compares two names: "Crane",
"crane " and "crane" are one name.
"""

from __future__ import annotations

import functools
import json
import os
import re
import unicodedata
from collections import Counter
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clustering.errors import ProblemsError
from clustering.hierarchy import WNID_RE, Hierarchy

FORMAT = "cil"
FORMAT_VERSION = 1
OTHER_PREFIX = "other "  # the display name of an `other` label: "other bird"
# A 1,000-class rich CIL is 0.4 MB, so a 21,841-class one about 8 MB: 32 MiB leaves room
# and keeps a stray or hostile file from being read whole.
MAX_FILE_BYTES = 32 * 1024 * 1024
# A CIL's numbers are indices and counts; past this a number is an attack on the parser.
MAX_NUMBER_DIGITS = 30
# "other " and a lemma qualified by another (WordNet's longest lemmas are about 70
# characters) stay far below this; a longer name is no label's.
MAX_NAME_CHARS = 200

__all__ = [
    "CIL",
    "FORMAT",
    "FORMAT_VERSION",
    "MAX_FILE_BYTES",
    "MAX_NAME_CHARS",
    "MAX_NUMBER_DIGITS",
    "OTHER_PREFIX",
    "CILFormatError",
    "CILReadError",
    "ClassEntry",
    "Label",
    "build_cil",
    "cil_from_json",
    "dumps_cil",
    "name_readings",
    "normalize_name",
    "plain_lemmas",
    "qualifier_rank",
    "read_cil",
    "read_cil_json",
    "resolve_name",
    "sense_name",
    "split_name",
    "unique_names",
    "write_cil",
]


class CILFormatError(ProblemsError):
    """A file that is not a CIL; `problems` lists every reason, the message shows them."""

    max_shown = 50

    def headline(self) -> str:
        return f"{self.source} is not a valid CIL file"


class CILReadError(CILFormatError):
    """A file that cannot be read as JSON at all: its one problem, on one line, so a
    command can say it and exit 2 instead of reporting a CIL it never read."""

    def __init__(self, source: str, problem: str) -> None:
        super().__init__(source, [problem])

    def __str__(self) -> str:
        return f"{self.source}: {self.problems[0]}"


@dataclass(frozen=True)
class ClassEntry:
    index: int  # the class's position in sorted wnid order (torchvision's ImageFolder)
    wnid: str
    name: str  # the class's display name (its wnid where the file does not say)
    label_index: int
    # Why the class has this label where it is not simply its voters' choice (an
    # admin's decision, a merge, a move, an "other" name); None where it is.
    reason: str | None = None


@dataclass(frozen=True)
class Label:
    index: int
    wnid: str | None  # the label's synset; None where a flat file's name did not resolve
    name: str  # display name, unique within a sound CIL
    members: tuple[str, ...]  # class wnids, in class index order
    # True for "other <synset>": the synset less the CIL's labels below it, the
    # `other` conflict policy's way to keep a general label beside specific ones.
    other: bool = False


@dataclass
class CIL:
    """One label per class. `classes` are in class index order, `labels` in label index order."""

    classes: list[ClassEntry]
    labels: list[Label]
    provenance: dict[str, Any] = field(default_factory=dict)
    class_to_label: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        self.classes = sorted(self.classes, key=lambda c: (c.index, c.wnid))
        self.labels = sorted(self.labels, key=lambda label: label.index)
        self.class_to_label = {c.wnid: c.label_index for c in self.classes}

    @property
    def num_labels(self) -> int:
        return len(self.labels)

    def label_of(self, wnid: str) -> int:
        """The label index of class `wnid`; KeyError for a class the CIL does not cover."""
        try:
            return self.class_to_label[wnid]
        except KeyError:
            raise KeyError(f"class {wnid} has no label in this CIL") from None

    def label_by_index(self) -> dict[int, Label]:
        return {label.index: label for label in self.labels}

    def to_dict(self) -> dict[str, Any]:
        labels = self.label_by_index()
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "classes": [
                {
                    "index": c.index,
                    "wnid": c.wnid,
                    "name": c.name,
                    "label_index": c.label_index,
                    "label_wnid": labels[c.label_index].wnid,
                    "label_name": labels[c.label_index].name,
                    **({"reason": c.reason} if c.reason else {}),
                }
                for c in self.classes
            ],
            "labels": [
                {
                    "index": label.index,
                    "wnid": label.wnid,
                    "name": label.name,
                    "members": list(label.members),
                    "other": label.other,
                }
                for label in self.labels
            ],
            "provenance": self.provenance,
        }

    def to_flat(self) -> dict[str, str]:
        """`{class wnid: label name}`; refused where two labels share a name, because
        the flat format would merge them silently."""
        shared = _shared_names(self.labels)
        if shared:
            raise CILFormatError(
                "this CIL",
                [
                    f"labels {', '.join(str(label.index) for label in labels)} share the name "
                    f"{_spellings(labels)}; the flat format keys labels by name, so make display "
                    "names unique first"
                    for labels in shared
                ],
            )
        labels = self.label_by_index()
        return {c.wnid: labels[c.label_index].name for c in self.classes}


# --- names ------------------------------------------------------------------------------
# A display name reads "[other ]LEMMA[ (QUALIFIER)]": a lemma of the label's synset,
# "other " for an `other` label, and where two labels would share it, a qualifier that
# tells them apart: another lemma of the synset, a lemma of a synset above it, or its
# WordNet sense number ("table (sense 3)"); never a wnid.
# "crane (wading bird)", as `unique_names` writes. The qualifier holds no bracket, so
# the match is linear in the name: "(.+)" there backtracked quadratically on "a (a (...".
_QUALIFIED = re.compile(r"^(.+) \(([^()]+)\)$")


# Naming a 21k-class CIL normalizes the same few thousand names hundreds of thousands
# of times; bounded, as names read from files and forms are anyone's.
@functools.lru_cache(maxsize=1 << 16)
def normalize_name(name: str) -> str:
    """A name as every rule compares it, with lemmas and with other names: Unicode NFC,
    case folded, `_` and runs of any Unicode space (a non-breaking one too) as one space,
    none at the ends. So "Crane", "crane\u00a0" and "crane" are one name."""
    folded = unicodedata.normalize("NFC", unicodedata.normalize("NFC", name).casefold())
    return " ".join(folded.replace("_", " ").split())


def split_name(name: str) -> tuple[bool, str, str | None]:
    """(other, base, qualifier) of a display name, normalized: "other crane (wading bird)"
    gives (True, "crane", "wading bird")."""
    wanted = normalize_name(name)
    other = wanted.startswith(OTHER_PREFIX)
    return (other, *_split_qualifier(wanted.removeprefix(OTHER_PREFIX)))


def _split_qualifier(name: str) -> tuple[str, str | None]:
    qualified = _QUALIFIED.match(name)
    return (qualified[1], qualified[2]) if qualified else (name, None)


def plain_lemmas(hierarchy: Hierarchy, wnid: str) -> frozenset[str]:
    """The synset's lemmas, normalized; kept per hierarchy, as naming reads every
    class's chain for every name it tries."""
    known = hierarchy.derived.setdefault("plain_lemmas", {})
    lemmas = known.get(wnid)
    if lemmas is None:
        lemmas = known[wnid] = frozenset(
            normalize_name(lemma) for lemma in hierarchy.synsets[wnid].lemmas
        )
    return lemmas


def _lemma_holders(hierarchy: Hierarchy) -> dict[str, frozenset[str]]:
    """Normalized lemma -> the synsets that have it, kept per hierarchy: naming reads
    each name on tens of thousands of chains, and most chain synsets lack it."""
    holders = hierarchy.derived.get("lemma_holders")
    if holders is None:
        found: dict[str, set[str]] = {}
        for wnid in hierarchy.synsets:
            for lemma in plain_lemmas(hierarchy, wnid):
                found.setdefault(lemma, set()).add(wnid)
        holders = hierarchy.derived["lemma_holders"] = {
            lemma: frozenset(wnids) for lemma, wnids in found.items()
        }
    return holders


def sense_name(hierarchy: Hierarchy, wnid: str) -> str:
    """ "sense 3" for table.n.03: WordNet's own number tells two same-named senses apart."""
    return f"sense {int(hierarchy.synsets[wnid].name.rsplit('.', 1)[1])}"


def qualifier_rank(hierarchy: Hierarchy, wnid: str, qualifier: str | None) -> int | None:
    """How closely `qualifier` (normalized) belongs to the synset: 0 for none or the
    synset's own (a lemma, its sense number, its nltk name), 1 for a lemma of a synset
    above it, None where it does not belong. The flat reader keeps the closest reading,
    so "printer (printing machine)" is the machine, not the computer printer below it."""
    if (
        qualifier is None
        or qualifier in plain_lemmas(hierarchy, wnid)
        or qualifier in (sense_name(hierarchy, wnid), normalize_name(hierarchy.synsets[wnid].name))
    ):
        return 0
    if any(qualifier in plain_lemmas(hierarchy, a) for a in hierarchy.ancestors(wnid)):
        return 1
    return None


def name_readings(hierarchy: Hierarchy, class_wnid: str, name: str) -> list[tuple[str, bool]]:
    """Every (synset, other) on the class's chain that `name` can denote, the closest
    readings only (`qualifier_rank`), in wnid order. A name read as a lemma goes before
    its "other <lemma>" reading. More than one reading means the name is ambiguous there."""
    other, base, qualifier = split_name(name)
    attempts = [(False, *_split_qualifier(normalize_name(name)))] if other else []
    attempts.append((other, base, qualifier))
    for is_other, wanted, wanted_qualifier in attempts:
        holders = _lemma_holders(hierarchy).get(wanted, ())
        ranked = [
            (rank, wnid)
            for wnid in hierarchy.chain_wnids(class_wnid)
            if wnid in holders
            and (rank := qualifier_rank(hierarchy, wnid, wanted_qualifier)) is not None
        ]
        if ranked:
            best = min(rank for rank, _ in ranked)
            return sorted((wnid, is_other) for rank, wnid in ranked if rank == best)
    return []


def resolve_name(hierarchy: Hierarchy, class_wnid: str, name: str) -> tuple[str | None, bool]:
    """(the synset on the class's chain that `name` denotes or None, other), one class at
    a time: where the name can mean several synsets there (`name_readings`), the deepest
    (then the lowest wnid), as the published CIL's README reads its names. `read_cil`
    refuses such a name instead, because a file must say which synset it means."""
    readings = dict(name_readings(hierarchy, class_wnid, name))  # synset -> other
    if not readings:
        return None, False
    deepest = hierarchy.deepest(readings)
    return deepest, readings[deepest]


def unique_names(
    hierarchy: Hierarchy,
    names: Mapping[str, str],
    members: Mapping[str, Collection[str]] | None = None,
) -> dict[str, str]:
    """Display names made unique: `names` maps label wnid -> wanted name ("crane",
    "other machine").

    Wnids that want one name, or "X" and "other X", are all qualified, so that "X"
    and "other X" always mean one synset: by another lemma of the synset that the
    others lack ("car (railcar)"), else by the nearest ancestor whose name the others
    lack ("crane (wading bird)"), else by its sense number ("table (sense 3)").
    `members` (label wnid -> class wnids) adds a second test: read on each member's
    chain as the flat reader reads it (`name_readings`), the name must mean its synset
    alone, so "printer" for the printing machine above the computer printer becomes
    "printer (printing machine)". Names nobody shares and that read back are kept.
    """
    members = members or {}
    by_core: dict[str, list[str]] = {}  # compared normalised: "Crane" and "crane" are shared
    for wnid, name in names.items():
        by_core.setdefault(_core(name), []).append(wnid)
    unshared = {core for core, wnids in by_core.items() if len(wnids) == 1}
    result: dict[str, str] = {}
    taken: set[str] = set()
    for _, wnids in sorted(by_core.items()):
        for wnid in sorted(wnids):
            wanted = names[wnid]
            contenders = [w for w in wnids if w != wnid]
            reading = [(wnid, normalize_name(wanted).startswith(OTHER_PREFIX))]
            # Cores taken, and cores others keep unqualified, are out: "other X (Y)" beside
            # "X (Y)" would read as one synset (tested without building their union per
            # wnid, which made this quadratic in the synsets).
            result[wnid] = next(
                option
                for option in _name_options(hierarchy, wnid, wanted, contenders)
                if (key := _core(option)) not in taken
                and (key == _core(wanted) or key not in unshared)
                and all(
                    name_readings(hierarchy, c, option) == reading for c in members.get(wnid, ())
                )
            )
            taken.add(_core(result[wnid]))
    return result


def _display_names(
    hierarchy: Hierarchy, wanted: dict[str, str], members: dict[str, list[str]]
) -> dict[str, str]:
    """`unique_names`, kept per hierarchy for the last names and members asked about:
    after a vote the labels and their members are mostly the same, and making the
    names unique took a fifth of an aggregation at ImageNet-21k's size."""
    last = hierarchy.derived.get("unique_names")
    if last is not None and last[0] == wanted and last[1] == members:
        return dict(last[2])
    display = unique_names(hierarchy, wanted, members)
    hierarchy.derived["unique_names"] = (wanted, members, dict(display))
    return display


def _core(name: str) -> str:
    """The name compared normalised, without "other ": what two labels may not share."""
    return normalize_name(name).removeprefix(OTHER_PREFIX)


def _name_options(
    hierarchy: Hierarchy, wnid: str, wanted: str, contenders: list[str]
) -> Iterator[str]:
    """Names for `wnid`, best first (see `unique_names`). The last, qualified by the
    synset's nltk name ("table.n.03"), is unique in WordNet and means the synset alone
    on any chain, so the caller always finds one."""
    if not contenders:
        yield wanted
    core = normalize_name(wanted.removeprefix(OTHER_PREFIX))
    theirs = {lemma for c in contenders for lemma in plain_lemmas(hierarchy, c)}
    for lemma in hierarchy.synsets[wnid].lemmas:
        if normalize_name(lemma) not in theirs | {core}:
            yield f"{wanted} ({lemma.replace('_', ' ')})"
    their_lineage = {hierarchy.label(a) for c in contenders for a in [c, *hierarchy.ancestors(c)]}
    for ancestor in _nearest_first_ancestors(hierarchy, wnid):
        if hierarchy.label(ancestor) not in their_lineage:
            yield f"{wanted} ({hierarchy.label(ancestor)})"
    yield f"{wanted} ({sense_name(hierarchy, wnid)})"
    yield f"{wanted} ({hierarchy.synsets[wnid].name})"


def _nearest_first_ancestors(hierarchy: Hierarchy, wnid: str) -> list[str]:
    """Ancestors breadth-first from `wnid`, parents before grandparents."""
    order: dict[str, None] = {}  # a dict keeps insertion order, a set does not
    frontier = list(hierarchy.parents.get(wnid, ()))
    while frontier:
        following = []
        for parent in frontier:
            if parent not in order:
                order[parent] = None
                following.extend(hierarchy.parents.get(parent, ()))
        frontier = following
    return list(order)


def _shared_names(labels: list[Label]) -> list[list[Label]]:
    """The labels that share a name, compared normalised, a list per name."""
    by_name: dict[str, list[Label]] = {}
    for label in labels:
        by_name.setdefault(normalize_name(label.name), []).append(label)
    return [sharing for sharing in by_name.values() if len(sharing) > 1]


def _spellings(labels: list[Label]) -> str:
    """ "'panda'", or "'Crane' / 'crane'" where the labels write one name differently."""
    return " / ".join(repr(name) for name in sorted({label.name for label in labels}))


# --- building ---------------------------------------------------------------------------
def build_cil(
    hierarchy: Hierarchy,
    assignment: Mapping[str, str],
    provenance: Mapping[str, Any] | None = None,
    other_labels: Collection[str] = (),
    names: Mapping[str, str] | None = None,
    reasons: Mapping[str, str] | None = None,
) -> CIL:
    """A CIL from `assignment` (class wnid -> label synset wnid) over the hierarchy's classes.

    Display names are the synsets' first lemmas (or the lemma `names` gives a label
    wnid), "other <lemma>" for the label wnids in `other_labels`, made unique by
    `unique_names` so that the flat format reads back to the same synsets. Labels are
    indexed in display-name order, which is also the order a reader of the flat format
    gives them, so writing either format and reading it back keeps the indices. Each
    class's label must be on its hypernym chain (the class itself, or above it).
    """
    missing = [c.wnid for c in hierarchy.classes if c.wnid not in assignment]
    unknown = sorted(set(assignment) - set(hierarchy.class_index))
    if missing or unknown:
        problems = []
        if missing:
            problems.append(f"{len(missing)} classes have no label: {_listing(missing)}")
        if unknown:
            problems.append(
                f"{len(unknown)} wnids are not classes of the hierarchy: {_listing(unknown)}"
            )
        raise ValueError("; ".join(problems))
    off_chain = sorted(w for w, label in assignment.items() if label not in hierarchy.chain(w))
    if off_chain:
        raise ValueError(
            f"{len(off_chain)} classes have a label that is not on their hypernym chain: "
            + _listing([f"{w} -> {assignment[w]}" for w in off_chain])
        )
    label_wnids = sorted(set(assignment.values()))
    names = names or {}
    reasons = reasons or {}
    lemma = {
        w: " ".join(names[w].replace("_", " ").split()) if w in names else hierarchy.label(w)
        for w in label_wnids
    }
    wanted = {
        w: f"{OTHER_PREFIX}{lemma[w]}" if w in other_labels else lemma[w] for w in label_wnids
    }
    members: dict[str, list[str]] = {w: [] for w in label_wnids}
    for image_class in hierarchy.classes:
        members[assignment[image_class.wnid]].append(image_class.wnid)
    display = _display_names(hierarchy, wanted, members)
    order = sorted(label_wnids, key=lambda w: (display[w], w))
    index_of = {wnid: index for index, wnid in enumerate(order)}
    classes = [
        ClassEntry(c.index, c.wnid, name, index_of[assignment[c.wnid]], reasons.get(c.wnid))
        for c, name in zip(hierarchy.classes, _class_names(hierarchy), strict=True)
    ]
    labels = [
        Label(index_of[w], w, display[w], tuple(members[w]), w in other_labels) for w in order
    ]
    return CIL(classes, labels, dict(provenance or {}))


def _class_names(hierarchy: Hierarchy) -> list[str]:
    """The classes' names in class order, made once per hierarchy: every CIL built from
    it names every class (21,843 at ImageNet-21k's size)."""
    names = hierarchy.derived.get("class_names")
    if names is None:
        names = hierarchy.derived["class_names"] = [
            hierarchy.label(c.wnid) for c in hierarchy.classes
        ]
    return names


def _listing(wnids: list[str], limit: int = 10) -> str:
    return ", ".join(wnids[:limit]) + (
        f" ... ({len(wnids) - limit} more)" if len(wnids) > limit else ""
    )


# --- reading ----------------------------------------------------------------------------
def read_cil(
    path: str | Path, hierarchy: Hierarchy | None = None, max_bytes: int = MAX_FILE_BYTES
) -> CIL:
    """The CIL in `path`, rich or flat (told apart by the rich format's `format` key).

    `hierarchy` matters for the flat format only: with it, class names come from
    the hierarchy where it knows the class, and each label name is read on the
    class's chain (`name_readings`); a name that resolves to different synsets
    for different classes becomes one label per synset, and one that can mean
    several synsets on a chain is refused (`CILFormatError`). Flat class
    indices are the file's wnids in sorted order, labels are indexed by name.
    A file of more than `max_bytes` is not read (`read_cil_json`).
    """
    return cil_from_json(read_cil_json(path, max_bytes), str(path), hierarchy)


def read_cil_json(path: str | Path, max_bytes: int = MAX_FILE_BYTES) -> Any:
    """The parsed JSON of a CIL file, before any check of its shape.

    What cannot be read as JSON is a `CILReadError`: a missing file, one of more than
    `max_bytes` (never read past the limit, so a device that never ends is refused
    too), text that is not UTF-8 or not JSON, nesting deeper than Python's parser
    goes, a number of more than `MAX_NUMBER_DIGITS` digits. A key written twice in one
    object, which JSON would keep the last of silently, is a `CILFormatError`.
    """
    source = str(path)
    try:
        with Path(path).open("rb") as file:
            # The size the file system gives (0 for a device or a pipe, which then meet
            # the limit as they are read).
            size = os.fstat(file.fileno()).st_size
            if size > max_bytes:
                raise CILReadError(source, _too_large(f"is {size:,} bytes", max_bytes))
            raw = file.read(max_bytes + 1)
    except FileNotFoundError:
        raise CILReadError(source, "the file does not exist") from None
    except OSError as exc:
        raise CILReadError(source, f"cannot read it: {exc.strerror or exc}") from None
    if len(raw) > max_bytes:
        raise CILReadError(source, _too_large("holds more", max_bytes))
    duplicates: Counter[tuple[str, int]] = Counter()  # (key, times in its object) -> objects
    try:
        data = json.loads(
            raw.decode("utf-8"),
            object_pairs_hook=lambda pairs: _object(pairs, duplicates),
            parse_int=_parse_int,
        )
    except UnicodeDecodeError as exc:
        raise CILReadError(source, f"not UTF-8 text: {exc}") from None
    except json.JSONDecodeError as exc:
        raise CILReadError(source, f"not JSON: {exc}") from None
    except RecursionError:
        raise CILReadError(
            source,
            "its arrays and objects are nested too deep to read (a CIL nests a few levels)",
        ) from None
    except _LongNumber as exc:
        raise CILReadError(
            source,
            f"a number of {exc.digits} digits, more than the {MAX_NUMBER_DIGITS} a CIL's "
            "indices and counts need",
        ) from None
    if duplicates:
        raise CILFormatError(
            source,
            [
                f"the key {key!r} appears {count} times in one object"
                + (f" (in {objects} objects)" if objects > 1 else "")
                + "; JSON keeps only the last, so write it once"
                for (key, count), objects in duplicates.items()
            ],
        )
    return data


def _too_large(size: str, max_bytes: int) -> str:
    return (
        f"the file {size}, over the {max_bytes:,}-byte limit on a CIL file (a 1,000-class "
        "rich CIL is about 0.4 MB): check that it is a CIL, or raise the limit "
        "(validate's --max-bytes, read_cil's max_bytes)"
    )


def _object(pairs: list[tuple[str, Any]], duplicates: Counter[tuple[str, int]]) -> dict[str, Any]:
    """A JSON object as a dict; each key it writes more than once is counted in
    `duplicates` under (key, times)."""
    data = dict(pairs)
    if len(data) < len(pairs):  # counted only then: most objects have no duplicate
        for key, count in Counter(key for key, _ in pairs).items():
            if count > 1:
                duplicates[key, count] += 1
    return data


class _LongNumber(Exception):
    def __init__(self, digits: int) -> None:
        self.digits = digits


def _parse_int(text: str) -> int:
    # Checked before int() converts it: Python's own limit is 4,300 digits, and its
    # error tells the user to raise that limit, which is not what they should do.
    if len(text.lstrip("-")) > MAX_NUMBER_DIGITS:
        raise _LongNumber(len(text.lstrip("-")))
    return int(text)


def cil_from_json(data: Any, source: str = "the CIL", hierarchy: Hierarchy | None = None) -> CIL:
    """A CIL from parsed JSON: see `read_cil`."""
    if isinstance(data, dict) and "format" in data:
        return _from_rich(data, source)
    if isinstance(data, dict):
        return _from_flat(data, source, hierarchy)
    raise CILFormatError(
        source,
        [
            "expected a JSON object (rich CIL or flat {wnid: label name}), "
            + f"found {type(data).__name__}"
        ],
    )


def _from_flat(data: dict, source: str, hierarchy: Hierarchy | None) -> CIL:
    problems = []
    for wnid, name in data.items():
        if not WNID_RE.match(wnid):
            problems.append(f"key {wnid!r} is not a wnid like n02110341")
        if not isinstance(name, str) or not name.strip():
            problems.append(f"{wnid}: the label name must be a non-empty string, found {name!r}")
        elif len(name) > MAX_NAME_CHARS:
            problems.append(f"{wnid}: the label name {_too_long(name)}")
    if not data:
        problems.append("the file maps no classes")
    if problems:
        raise CILFormatError(source, problems)
    known = hierarchy.class_index if hierarchy else {}
    keys = (
        _label_keys(data, hierarchy, source)
        if hierarchy
        else {wnid: (name, None, False) for wnid, name in data.items()}
    )
    label_keys = sorted(set(keys.values()), key=lambda k: (k[0], k[1] or "", k[2]))
    index_of = {key: index for index, key in enumerate(label_keys)}
    wnids = sorted(data)
    members: dict[tuple[str, str | None, bool], list[str]] = {key: [] for key in label_keys}
    classes = []
    for index, wnid in enumerate(wnids):
        members[keys[wnid]].append(wnid)
        name = hierarchy.label(wnid) if wnid in known else wnid
        classes.append(ClassEntry(index, wnid, name, index_of[keys[wnid]]))
    labels = [
        Label(index_of[key], key[1], key[0], tuple(members[key]), key[2]) for key in label_keys
    ]
    provenance: dict[str, Any] = {"source_format": "flat"}
    if hierarchy is not None:
        provenance["hierarchy_version"] = hierarchy.version
    return CIL(classes, labels, provenance)


def _label_keys(
    data: dict[str, str], hierarchy: Hierarchy, source: str
) -> dict[str, tuple[str, str | None, bool]]:
    """class wnid -> (label name, label wnid or None, other), each name read on its
    classes' chains (`name_readings`). A name that can mean several synsets on a chain
    takes the one that all its classes share; where none or several are shared, the
    file does not say which synset it means, and a `CILFormatError` names each such name."""
    by_name: dict[str, list[str]] = {}
    for wnid, name in data.items():
        by_name.setdefault(name, []).append(wnid)
    keys: dict[str, tuple[str, str | None, bool]] = {}
    problems = []
    for name, wnids in sorted(by_name.items()):
        readings = {
            w: name_readings(hierarchy, w, name) if w in hierarchy.class_index else []
            for w in wnids
        }
        found_sets = [set(found) for found in readings.values() if found]
        shared = set.intersection(*found_sets) if found_sets else set()
        ambiguous: dict[tuple[tuple[str, bool], ...], list[str]] = {}
        for wnid, found in readings.items():
            if len(found) > 1 and len(shared) == 1:
                found = sorted(shared)  # the reading its fellow classes make certain
            elif len(found) > 1:
                ambiguous.setdefault(tuple(found), []).append(wnid)
            keys[wnid] = (name, *(found[0] if len(found) == 1 else (None, False)))
        problems.extend(
            _ambiguity(hierarchy, name, [w for w, _ in found], classes)
            for found, classes in ambiguous.items()
        )
    if problems:
        raise CILFormatError(source, problems)
    return keys


def _ambiguity(hierarchy: Hierarchy, name: str, synsets: list[str], classes: list[str]) -> str:
    """The message for a flat name that can mean several `synsets` on `classes`' chains,
    with the names this project would write for each."""
    meanings = ", ".join(
        f"{w} ({', '.join(lemma.replace('_', ' ') for lemma in hierarchy.synsets[w].lemmas)}: "
        f"{hierarchy.synsets[w].gloss})"
        for w in synsets
    )
    suggestions = unique_names(
        hierarchy, dict.fromkeys(synsets, name), dict.fromkeys(synsets, classes)
    )
    where = ", ".join(f"{c} ({hierarchy.label(c)})" for c in classes)
    return (
        f"the name {name!r} can mean {len(synsets)} synsets on the chain of {where}: "
        f"{meanings}; say which, e.g. " + " or ".join(repr(suggestions[w]) for w in synsets)
    )


def _from_rich(data: dict, source: str) -> CIL:
    problems: list[str] = []
    if data.get("format") != FORMAT:
        raise CILFormatError(source, [f"format is {data.get('format')!r}, expected {FORMAT!r}"])
    if data.get("format_version") != FORMAT_VERSION:
        raise CILFormatError(
            source,
            [
                f"format_version {data.get('format_version')!r} is not supported "
                + f"(this reader knows {FORMAT_VERSION})"
            ],
        )
    for key, kind in (("classes", list), ("labels", list), ("provenance", dict)):
        if not isinstance(data.get(key), kind):
            problems.append(f"{key!r} must be a JSON {'array' if kind is list else 'object'}")
    if problems:
        raise CILFormatError(source, problems)

    labels: list[Label] = []
    for position, item in enumerate(data["labels"]):
        where = f"labels[{position}]"
        fields = _fields(
            item,
            where,
            {"index": int, "wnid": (str, type(None)), "name": str, "members": list},
            problems,
        )
        if fields is None:
            continue
        if not all(isinstance(m, str) for m in fields["members"]):
            problems.append(f"{where}.members must be a list of class wnids")
            continue
        if len(fields["name"]) > MAX_NAME_CHARS:
            problems.append(f"{where}.name {_too_long(fields['name'])}")
        problems.extend(
            f"label {fields['index']} ({fields['name'][:MAX_NAME_CHARS]!r}) lists {member} "
            f"{count} times"
            for member, count in Counter(fields["members"]).items()
            if count > 1
        )
        if fields["wnid"] is not None and not WNID_RE.match(fields["wnid"]):
            problems.append(f"{where}.wnid {fields['wnid']!r} is not a wnid like n02110341")
        other = item.get("other", False)
        if not isinstance(other, bool):
            problems.append(f"{where}.other must be true or false, found {other!r}")
        labels.append(
            Label(
                fields["index"],
                fields["wnid"],
                fields["name"],
                tuple(fields["members"]),
                other is True,
            )
        )
    by_index: dict[int, Label] = {}
    for label in labels:
        if label.index in by_index:
            problems.append(f"two labels have index {label.index}")
        by_index[label.index] = label

    classes: list[ClassEntry] = []
    seen: dict[str, int] = {}
    for position, item in enumerate(data["classes"]):
        where = f"classes[{position}]"
        fields = _fields(
            item,
            where,
            {
                "index": int,
                "wnid": str,
                "name": str,
                "label_index": int,
                "label_wnid": (str, type(None)),
                "label_name": str,
            },
            problems,
        )
        if fields is None:
            continue
        wnid = fields["wnid"]
        where = f"{where} ({wnid})"
        if not WNID_RE.match(wnid):
            problems.append(f"{where}: {wnid!r} is not a wnid like n02110341")
        if wnid in seen:
            problems.append(f"{where}: class {wnid} is listed twice")
        seen[wnid] = fields["label_index"]
        label = by_index.get(fields["label_index"])
        if label is None:
            problems.append(f"{where}: label_index {fields['label_index']} is not a label's index")
        else:
            if fields["label_wnid"] != label.wnid:
                problems.append(
                    f"{where}: label_wnid {fields['label_wnid']} differs from label "
                    f"{label.index}'s wnid {label.wnid}"
                )
            if fields["label_name"] != label.name:
                problems.append(
                    f"{where}: label_name {fields['label_name']!r} differs from label "
                    f"{label.index}'s name {label.name!r}"
                )
        reason = item.get("reason")
        if reason is not None and not isinstance(reason, str):
            problems.append(f"{where}: reason must be a string when present, found {reason!r}")
            reason = None
        classes.append(
            ClassEntry(fields["index"], wnid, fields["name"], fields["label_index"], reason)
        )
    # Grouped once: a scan of every class per label was quadratic (20,000 labels: 27 s).
    listed_under: dict[int, set[str]] = {}
    for wnid, index in seen.items():
        listed_under.setdefault(index, set()).add(wnid)
    for label in labels:
        for member in label.members:
            if seen.get(member) != label.index:
                problems.append(
                    f"label {label.index} ({label.name!r}) lists {member}, whose "
                    f"label_index is {seen.get(member, 'missing')}"
                )
        for wnid in sorted(listed_under.get(label.index, set()) - set(label.members)):
            problems.append(f"label {label.index} ({label.name!r}) does not list its class {wnid}")
    if problems:
        raise CILFormatError(source, problems)
    return CIL(classes, labels, data["provenance"])


def _too_long(name: str) -> str:
    return f"is {len(name):,} characters long, more than the {MAX_NAME_CHARS} a display name may be"


def _fields(
    item: Any, where: str, spec: dict[str, Any], problems: list[str]
) -> dict[str, Any] | None:
    """`item`'s fields checked against `spec` (name -> type); None and problems noted if wrong."""
    if not isinstance(item, dict):
        problems.append(f"{where} must be a JSON object")
        return None
    before = len(problems)
    for name, kind in spec.items():
        if name not in item:
            problems.append(f"{where} lacks {name!r}")
        elif isinstance(item[name], bool) or not isinstance(item[name], kind):
            problems.append(f"{where}.{name} has the wrong type: {item[name]!r}")
    return None if len(problems) > before else item


# --- writing ----------------------------------------------------------------------------
def dumps_cil(cil: CIL, flat: bool = False) -> str:
    """`cil` as rich JSON text (sorted keys, format and version), or flat `{wnid: name}`."""
    data = cil.to_flat() if flat else cil.to_dict()
    return json.dumps(data, sort_keys=True, indent=1, ensure_ascii=False) + "\n"


def write_cil(cil: CIL, path: str | Path, flat: bool = False) -> None:
    """Write `cil` to `path` (see `dumps_cil`)."""
    Path(path).write_text(dumps_cil(cil, flat), encoding="utf-8")
