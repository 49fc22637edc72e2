"""Is a CIL sound? Every check runs and every failure is reported, so one run of
`python -m clustering validate FILE` shows all that must be fixed.

The checks:

- `format`: the file reads as a CIL at all (otherwise nothing else can run); a
  file that does not even read as JSON is no report but a `CILReadError`;
- `coverage`: every class of the hierarchy has a label, no unknown class is
  listed, and class indices run 0..n-1 in the hierarchy's order;
- `indices`: label indices run 0..n-1 and every label has a member;
- `names`: display names are unique (one name for two synsets is the published
  CIL's "panda"), and so are label synsets; no name holds a wnid; "X" and
  "other X" name one synset. Names are compared as `normalize_name` writes them,
  so "Crane" and "crane\u00a0" are one name;
- `lemmas`: each display name is a lemma of its synset, or "other " and one for
  an "other" label, with at most a qualifier in brackets that belongs to the
  synset or one above it ("crane (wading bird)", `clustering.cil.unique_names`),
  and it reads back to its synset alone on each member's chain, as the flat
  format's reader reads it (`name_readings`): "printer (printing machine)" on the
  computer printer is the printing machine there, and plain "printer" either;
- `partition`: every class's label is a synset on its own chain, and no chosen
  label is an ancestor of another. An "other X" label may have labels below it,
  must have one, and holds none of their classes. A class above other classes
  ("dog" above "beagle") is checked alike: its own label lies on its chain, so at
  or above itself.

Each problem is reported by one check: a label name that is no synset on a
class's chain is `partition`'s, not also a second label of that name for `names`.
Without a hierarchy, `coverage` checks indices only and `lemmas` and `partition`
are skipped.
With one, classes under two unrelated labels through two hypernym paths are
listed as warnings (`clustering.conflicts.find_overlaps`): they break no rule,
but an admin may want to settle them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from clustering.cil import (
    CIL,
    MAX_FILE_BYTES,
    OTHER_PREFIX,
    CILFormatError,
    CILReadError,
    Label,
    name_readings,
    normalize_name,
    plain_lemmas,
    qualifier_rank,
    read_cil,
    split_name,
    unique_names,
)
from clustering.conflicts import find_conflicts, find_overlaps
from clustering.hierarchy import Hierarchy

__all__ = ["CHECKS", "Failure", "ValidationReport", "validate_cil", "validate_file"]

CHECKS = ("format", "coverage", "indices", "names", "lemmas", "partition")
_WNID = re.compile(r"n\d{8}")


@dataclass(frozen=True)
class Failure:
    check: str  # one of CHECKS
    message: str


@dataclass
class ValidationReport:
    source: str
    checks: list[str] = field(default_factory=list)  # the checks that ran
    skipped: dict[str, str] = field(default_factory=dict)  # check -> why it did not run
    failures: list[Failure] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    num_classes: int = 0
    num_labels: int = 0

    @property
    def ok(self) -> bool:
        return not self.failures

    def failed(self, check: str) -> list[Failure]:
        return [f for f in self.failures if f.check == check]

    def format(self) -> str:
        """A readable text: one line per check, then each failure indented under it."""
        lines = [f"{self.source}: {self.num_classes} classes, {self.num_labels} labels"]
        for check in CHECKS:
            if check in self.skipped:
                lines.append(f"  {check}: skipped ({self.skipped[check]})")
            elif check in self.checks:
                failures = self.failed(check)
                lines.append(
                    f"  {check}: " + (f"FAILED, {len(failures)} problem(s)" if failures else "ok")
                )
                lines.extend(f"    - {f.message}" for f in failures)
        if self.warnings:
            lines.append(f"  warnings: {len(self.warnings)}")
            lines.extend(f"    - {warning}" for warning in self.warnings)
        lines.append("valid" if self.ok else f"INVALID: {len(self.failures)} problem(s)")
        return "\n".join(lines)


def validate_file(
    path: str | Path, hierarchy: Hierarchy | None = None, max_bytes: int = MAX_FILE_BYTES
) -> ValidationReport:
    """Read `path` (rich or flat; flat names resolved on the hierarchy) and validate it.
    A file that does not read as JSON at all raises `CILReadError`: there is no CIL to
    report on."""
    try:
        cil = read_cil(path, hierarchy, max_bytes)
    except CILReadError:
        raise
    except CILFormatError as exc:
        report = ValidationReport(str(path), checks=["format"])
        report.failures = [Failure("format", problem) for problem in exc.problems]
        report.skipped = {check: "the file does not read as a CIL" for check in CHECKS[1:]}
        return report
    report = validate_cil(cil, hierarchy, str(path))
    report.checks.insert(0, "format")
    return report


def validate_cil(
    cil: CIL, hierarchy: Hierarchy | None = None, source: str = "the CIL"
) -> ValidationReport:
    """Run every check on `cil`; without a hierarchy, `lemmas` and `partition` are skipped."""
    report = ValidationReport(source, num_classes=len(cil.classes), num_labels=cil.num_labels)
    results = {
        "coverage": _coverage(cil, hierarchy),
        "indices": _indices(cil),
        "names": _names(cil, hierarchy),
        "lemmas": _lemmas(cil, hierarchy) if hierarchy is not None else None,
        "partition": _partition(cil, hierarchy) if hierarchy is not None else None,
    }
    for check, messages in results.items():
        if messages is None:
            report.skipped[check] = "needs the hierarchy"
            continue
        report.checks.append(check)
        report.failures.extend(Failure(check, message) for message in messages)
    if hierarchy is not None:
        report.warnings = _overlaps(cil, hierarchy)
    return report


def _coverage(cil: CIL, hierarchy: Hierarchy | None) -> Iterable[str]:
    if hierarchy is None:
        indices = [c.index for c in cil.classes]
        if indices != list(range(len(indices))):
            yield f"class indices are not 0..{len(indices) - 1}: {_gaps(indices)}"
        return
    listed = {c.wnid for c in cil.classes}
    missing = [c for c in hierarchy.classes if c.wnid not in listed]
    if missing:
        yield (
            f"{len(missing)} of the hierarchy's {len(hierarchy.classes)} classes have no "
            f"label: " + ", ".join(f"{c.wnid} ({hierarchy.label(c.wnid)})" for c in missing)
        )
    unknown = sorted(listed - set(hierarchy.class_index))
    if unknown:
        yield f"{len(unknown)} class(es) are not in the hierarchy: {', '.join(unknown)}"
    if not missing and not unknown:
        for c in cil.classes:
            if c.index != hierarchy.class_index[c.wnid]:
                yield (
                    f"class {c.wnid} ({c.name}) has index {c.index}, but it is "
                    f"{hierarchy.class_index[c.wnid]} in sorted wnid order"
                )


def _indices(cil: CIL) -> Iterable[str]:
    indices = [label.index for label in cil.labels]
    if indices != list(range(len(indices))):
        yield f"label indices are not 0..{len(indices) - 1}: {_gaps(indices)}"
    for label in cil.labels:
        if not label.members:
            yield f"label {label.index} ({label.name!r}) has no classes"


def _gaps(indices: list[int]) -> str:
    expected = set(range(len(indices)))
    missing = sorted(expected - set(indices))
    extra = sorted(set(indices) - expected)
    parts = []
    if missing:
        parts.append(f"missing {', '.join(map(str, missing[:20]))}")
    if extra:
        parts.append(f"unexpected {', '.join(map(str, extra[:20]))}")
    return "; ".join(parts) or "out of order"


def _names(cil: CIL, hierarchy: Hierarchy | None) -> Iterable[str]:
    by_name: dict[str, list[Label]] = {}
    by_wnid: dict[str, list[str]] = {}
    for label in cil.labels:
        # With a hierarchy, a name on no synset of a class's chain is `partition`'s problem.
        if label.wnid or hierarchy is None:
            by_name.setdefault(normalize_name(label.name), []).append(label)
        if label.wnid:
            by_wnid.setdefault(label.wnid, []).append(f"{label.index} ({label.name!r})")
    for _, labels in sorted(by_name.items()):
        if len(labels) > 1:
            spellings = sorted({label.name for label in labels})
            said = (
                f"the name {spellings[0]!r}"
                if len(spellings) == 1
                else "the names " + ", ".join(map(repr, spellings)) + ", one name in another "
                "case, spacing or Unicode form,"
            )
            yield (
                f"{said} stand{'s' if len(spellings) == 1 else ''} for {len(labels)} labels: "
                + ", ".join(
                    f"{label.index}" + (f" ({label.wnid})" if label.wnid else "")
                    for label in labels
                )
            )
    for wnid, labels in sorted(by_wnid.items()):
        if len(labels) > 1:
            yield f"synset {wnid} is {len(labels)} labels: {', '.join(labels)}"
    for label in cil.labels:
        if _WNID.search(label.name):
            yield f"label {_ref(label)} holds a wnid: display names are words"
    yield from _other_names(cil)


def _ref(label: Label) -> str:
    return f"{label.name!r}" + (f" ({label.wnid})" if label.wnid else "")


def _other_names(cil: CIL) -> Iterable[str]:
    """ "X" and "other X" on two synsets: a reader takes "other X" for X less its labels.
    Compared normalised, so "Machine" and "Other  machine" are such a pair."""
    plain = {
        normalize_name(label.name): label for label in cil.labels if not label.other and label.wnid
    }
    for label in cil.labels:
        same = plain.get(normalize_name(label.name).removeprefix(OTHER_PREFIX))
        if label.other and label.wnid and same is not None and same.wnid != label.wnid:
            yield f"{_ref(same)} and {_ref(label)} are different synsets"


def _lemmas(cil: CIL, hierarchy: Hierarchy) -> Iterable[str]:
    for label in cil.labels:
        if label.wnid not in hierarchy.synsets or _WNID.search(label.name):
            continue  # `partition` reports an unknown synset, `names` a wnid in the name
        other, base, qualifier = split_name(label.name)
        if base not in plain_lemmas(hierarchy, label.wnid):
            lemmas = ", ".join(
                lemma.replace("_", " ") for lemma in hierarchy.synsets[label.wnid].lemmas
            )
            yield (
                f"label {_ref(label)} is not named by a lemma of its synset ({lemmas}), "
                "nor 'other ' and one"
            )
        elif other != label.other:
            yield (
                f"label {_ref(label)} is {'' if label.other else 'not '}an 'other' label, "
                f"but its name {'does not say' if label.other else 'says'} so"
            )
        elif qualifier_rank(hierarchy, label.wnid, qualifier) is None:
            yield (
                f"label {_ref(label)}: {qualifier!r} is neither a lemma of the synset or of "
                "one above it nor its sense number"
            )
        else:
            yield from _reads_back(label, label.wnid, hierarchy, base)


def _reads_back(label: Label, wnid: str, hierarchy: Hierarchy, base: str) -> Iterable[str]:
    """The label's name, read on each member's chain as the flat reader reads it, must
    mean the label's synset alone; one message for the first class where it does not.
    Members off the label's synset (`wnid`) are `partition`'s."""
    own = [(wnid, label.other)]
    on_chain = [
        m for m in label.members if m in hierarchy.class_index and wnid in hierarchy.chain_wnids(m)
    ]
    wrong = [
        (member, readings)
        for member in on_chain
        if (readings := name_readings(hierarchy, member, label.name)) != own
    ]
    if not wrong:
        return
    member, readings = wrong[0]
    meant = " or ".join(
        f"{w} ({', '.join(lemma.replace('_', ' ') for lemma in hierarchy.synsets[w].lemmas)})"
        for w, _ in readings
    )
    where = f"on the chain of {member} ({hierarchy.label(member)})" + (
        f" and of {len(wrong) - 1} more of its classes" if len(wrong) > 1 else ""
    )
    lemma = next(
        lemma.replace("_", " ")
        for lemma in hierarchy.synsets[wnid].lemmas
        if normalize_name(lemma) == base
    )
    wanted = f"{OTHER_PREFIX}{lemma}" if label.other else lemma
    better = unique_names(hierarchy, {wnid: wanted}, {wnid: on_chain})[wnid]
    yield (
        f"label {_ref(label)} {'reads as' if len(readings) == 1 else 'can mean'} {meant} "
        f"{where}, as the flat format reads it: call it {better!r}"
    )


def _partition(cil: CIL, hierarchy: Hierarchy) -> list[str]:
    problems = []
    labels = cil.label_by_index()
    chosen = set()
    for c in cil.classes:
        label = labels.get(c.label_index)
        if label is None or c.wnid not in hierarchy.class_index:
            continue  # reported by `indices` / `coverage`
        if label.wnid is None:
            problems.append(
                f"class {c.wnid} ({hierarchy.label(c.wnid)}): the label name "
                f"{label.name!r} is no synset on its chain"
            )
        elif label.wnid not in hierarchy.chain_wnids(c.wnid):
            problems.append(
                f"class {c.wnid} ({hierarchy.label(c.wnid)}): label {label.wnid} "
                f"({label.name!r}) is not on its chain"
            )
        else:
            chosen.add(label.wnid)
    other = {label.wnid for label in cil.labels if label.other and label.wnid}
    conflicts = find_conflicts(hierarchy, chosen, other)
    below: dict[str, list[str]] = {}
    for conflict in conflicts:
        below.setdefault(conflict.general, []).append(conflict.specific)
    names = {label.wnid: label.name for label in cil.labels if label.wnid}
    for general, specifics in sorted(below.items(), key=lambda item: names[item[0]]):
        problems.append(
            f"label {names[general]!r} ({general}) is an ancestor of {len(specifics)} other "
            "label(s): "
            + ", ".join(f"{names[s]!r} ({s})" for s in sorted(specifics, key=names.__getitem__))
        )
    return problems + _other_labels(cil, hierarchy, chosen)


def _other_labels(cil: CIL, hierarchy: Hierarchy, chosen: set[str]) -> list[str]:
    """ "other X" is X less the chosen labels below it: it needs one, and a class under
    one of them belongs to it, not to "other X"."""
    problems = []
    names = {label.wnid: label.name for label in cil.labels if label.wnid}
    # The chosen labels below each chosen label, from each one's ancestors: asking every
    # chosen label for every "other" label made 8 million questions at ImageNet-21k's size.
    chosen_below: dict[str, set[str]] = {}
    for w in chosen:
        for above in hierarchy.ancestors(w) & chosen:
            chosen_below.setdefault(above, set()).add(w)
    for label in cil.labels:
        if not (label.other and label.wnid in chosen):
            continue
        below = chosen_below.get(label.wnid, set())
        if not below:
            problems.append(
                f"{_ref(label)} is an 'other' label, but no chosen label lies "
                f"below it: call it {label.name.removeprefix(OTHER_PREFIX)!r}"
            )
        misplaced: dict[str, list[str]] = {}
        for member in label.members:
            if member in hierarchy.class_index:
                for lower in below.intersection(hierarchy.chain_wnids(member)):
                    misplaced.setdefault(lower, []).append(member)
        problems.extend(
            f"{_ref(label)} holds {len(members)} class(es) that lie under the label "
            f"{names[lower]!r} ({lower}) below it: "
            + ", ".join(f"{m} ({hierarchy.label(m)})" for m in members)
            for lower, members in sorted(misplaced.items(), key=lambda item: names[item[0]])
        )
    return problems


def _overlaps(cil: CIL, hierarchy: Hierarchy) -> list[str]:
    labels = cil.label_by_index()
    assignment = {
        c.wnid: labels[c.label_index].wnid
        for c in cil.classes
        if c.label_index in labels
        and labels[c.label_index].wnid
        and c.wnid in hierarchy.class_index
    }
    names = {label.wnid: label.name for label in cil.labels if label.wnid}
    return [
        f"class {o.wnid} ({hierarchy.label(o.wnid)}), labelled {names[o.label]!r}, also lies "
        f"under the label {names[o.also_under]!r} ({o.also_under}) on another hypernym path"
        for o in find_overlaps(hierarchy, assignment)
    ]
