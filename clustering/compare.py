"""Label sets side by side: the votes, the WordNet rules, a model's confusions, a
curated tree, on the same classes.

For each label set (any CIL, rich or flat), over the hierarchy's classes it covers:

- `labels`, `singletons` (labels of one class), `largest` (the biggest label's
  share of the classes);
- `entropy`: of the classes' spread over the labels, in bits; `balance` is the
  entropy over its most, log2(labels): 1 when every label is equally big;
- `agreement`: the share of the reference's classes (by default the published
  human labels) whose label is the same synset in this set;
- `valid`: whether `python -m clustering validate` passes, else its problem count;
- with a run folder (`python -m trainer.features RUN_DIR`), the 1,000-way model's
  top-1 on the set's labels by argmax-then-map (from `confusion.npy`: a prediction
  counts when the predicted class shares the true class's label) and by summed
  softmax (from `val_probabilities.npy`, where written: the label whose classes'
  probabilities sum highest).

Between every two sets, the adjusted Rand index (Hubert and Arabie, 1985) of the
partitions on the classes both cover: 1 for the same partition, about 0 for
agreement by chance.
"""

from __future__ import annotations

import csv
import io
import math
from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from clustering.cil import CILFormatError, cil_from_json, read_cil_json, resolve_name
from clustering.conflicts import find_conflicts
from clustering.confusion import class_order, read_class_matrix
from clustering.hierarchy import Hierarchy
from clustering.human_labels import HumanLabels
from clustering.validate import validate_file

__all__ = [
    "PROBABILITIES_FILE",
    "TARGETS_FILE",
    "LabelSet",
    "Row",
    "adjusted_rand_index",
    "compare",
    "format_csv",
    "format_markdown",
    "read_label_set",
]

# Written by `python -m trainer.features RUN_DIR` beside confusion.npy.
PROBABILITIES_FILE = "val_probabilities.npy"  # images x classes, the model's softmax
TARGETS_FILE = "val_targets.npy"  # images: each one's true class, a row of classes.txt


@dataclass(frozen=True)
class LabelSet:
    name: str
    groups: dict[str, Hashable]  # class wnid -> its label (an index, or a flat file's name)
    synsets: dict[str, str | None]  # class wnid -> its label's synset, where known
    problems: int  # what `validate` reports; 0 for a valid set
    names: dict[Hashable, str]  # label -> its display name


def read_label_set(name: str, path: str | Path, hierarchy: Hierarchy) -> LabelSet:
    """A CIL's partition and synsets. A flat file with names that can mean two synsets on
    a chain (the published labels' "printer") does not read as a CIL, so `validate` stops
    at its format; it is grouped by name here, each name read as the deepest synset of
    the chain it can mean (as the published labels were chosen), and its problems are
    the format's, plus its classes whose name is no synset of their chain, plus its
    labels that lie above another (`partition`'s checks)."""
    problems = len(validate_file(path, hierarchy).failures)
    known = hierarchy.class_index
    data = read_cil_json(path)
    try:
        cil = cil_from_json(data, str(path), hierarchy)
    except CILFormatError:
        if not isinstance(data, dict) or "format" in data:
            raise
        synsets = {
            w: resolve_name(hierarchy, w, label)[0] for w, label in data.items() if w in known
        }
        problems += sum(s is None for s in synsets.values()) + len(
            find_conflicts(hierarchy, {s for s in synsets.values() if s})
        )
        groups = {w: label for w, label in data.items() if w in known}
        return LabelSet(name, groups, synsets, problems, {g: g for g in groups.values()})
    labels = cil.label_by_index()
    return LabelSet(
        name,
        {c.wnid: c.label_index for c in cil.classes if c.wnid in known},
        {c.wnid: labels[c.label_index].wnid for c in cil.classes if c.wnid in known},
        problems,
        {index: label.name for index, label in labels.items()},
    )


def adjusted_rand_index(first: Sequence[Hashable], second: Sequence[Hashable]) -> float:
    """The adjusted Rand index of two labellings of the same items. Two labellings that
    both put every item alone, or all together, agree fully: 1."""
    if len(first) != len(second):
        raise ValueError("the two labellings must cover the same items")
    _, a = np.unique(np.array([str(x) for x in first]), return_inverse=True)
    _, b = np.unique(np.array([str(x) for x in second]), return_inverse=True)
    table = np.zeros((a.max() + 1, b.max() + 1))
    np.add.at(table, (a, b), 1)

    def pairs(counts: np.ndarray) -> float:
        return float((counts * (counts - 1) / 2).sum())

    index, rows, columns = pairs(table), pairs(table.sum(axis=1)), pairs(table.sum(axis=0))
    expected = rows * columns / pairs(np.array([len(first)]))
    most = (rows + columns) / 2
    return 1.0 if most == expected else (index - expected) / (most - expected)


@dataclass(frozen=True)
class Row:
    name: str
    classes: int
    labels: int
    singletons: int
    largest: float  # share of the classes
    entropy: float  # bits
    balance: float | None  # entropy / log2(labels); None for one label
    agreement: tuple[int, int] | None  # (same synset, reference classes)
    problems: int
    mapped_top1: float | None = None  # percent
    summed_top1: float | None = None  # percent


def compare(
    sets: Sequence[LabelSet],
    hierarchy: Hierarchy,
    reference: HumanLabels | None = None,
    run: str | Path | None = None,
) -> tuple[list[Row], dict[tuple[str, str], float]]:
    """The rows of the table, and the adjusted Rand index of every two sets."""
    model = _RunScores(run, hierarchy) if run else None
    rows = []
    for label_set in sets:
        sizes = Counter(label_set.groups.values())
        total = sum(sizes.values())
        shares = np.array(list(sizes.values())) / total
        entropy = float(-(shares * np.log2(shares)).sum())
        agreement = None
        if reference is not None:
            common = [w for w in reference.labels if w in label_set.synsets]
            agreement = (
                sum(label_set.synsets[w] == reference.labels[w] for w in common),
                len(common),
            )
        rows.append(
            Row(
                label_set.name,
                total,
                len(sizes),
                sum(n == 1 for n in sizes.values()),
                max(sizes.values()) / total,
                entropy,
                entropy / math.log2(len(sizes)) if len(sizes) > 1 else None,
                agreement,
                label_set.problems,
                *(model.top1(label_set.groups) if model else (None, None)),
            )
        )
    ari = {}
    for i, first in enumerate(sets):
        for second in sets[i + 1 :]:
            common = sorted(set(first.groups) & set(second.groups))
            ari[first.name, second.name] = ari[second.name, first.name] = adjusted_rand_index(
                [first.groups[w] for w in common], [second.groups[w] for w in common]
            )
    return rows, ari


class _RunScores:
    """A 1,000-way model's validation predictions, read once, scored on any label set."""

    def __init__(self, run: str | Path, hierarchy: Hierarchy) -> None:
        self.wnids = [c.wnid for c in hierarchy.classes]
        self.confusion = read_class_matrix(run, hierarchy)
        self.probabilities = self.targets = None
        folder = Path(run) if Path(run).is_dir() else Path(run).parent
        if (folder / PROBABILITIES_FILE).is_file() and (folder / TARGETS_FILE).is_file():
            probabilities = np.load(folder / PROBABILITIES_FILE)
            columns = probabilities.shape[1]
            order = class_order(folder / PROBABILITIES_FILE, columns, hierarchy, "column")
            mine = np.full(columns, -1)  # a column of classes.txt -> the hierarchy's
            mine[order] = np.arange(len(order))
            targets = mine[np.load(folder / TARGETS_FILE)]
            kept = targets >= 0  # images of classes outside the hierarchy are left out
            self.probabilities = probabilities[kept][:, order]
            self.targets = targets[kept]

    def top1(self, groups: dict[str, Hashable]) -> tuple[float | None, float | None]:
        """(argmax-then-map, summed softmax) top-1 in percent on the label set `groups`."""
        keys = {key: i for i, key in enumerate(sorted({str(g) for g in groups.values()}))}
        label = np.array([keys[str(groups[w])] if w in groups else -1 for w in self.wnids])
        same = (label[:, None] == label[None, :]) & (label >= 0)[:, None]
        mapped = 100 * float(self.confusion[same].sum() / self.confusion.sum())
        if self.probabilities is None:
            return mapped, None
        order = np.argsort(label, kind="stable")
        starts = np.searchsorted(label[order], np.arange(len(keys)))
        summed = np.add.reduceat(self.probabilities[:, order].astype(np.float64), starts, axis=1)
        hits = summed.argmax(axis=1) == label[self.targets]
        return mapped, 100 * float(hits.mean())


COLUMNS = (
    "label set",
    "labels",
    "singletons",
    "largest",
    "entropy (bits)",
    "balance",
    "agreement",
    "valid",
    "top-1 argmax-then-map",
    "top-1 summed softmax",
)


def _cells(row: Row, run: bool) -> list[str]:
    agreement = (
        "–"
        if row.agreement is None
        else f"{row.agreement[0]}/{row.agreement[1]} = "
        f"{100 * row.agreement[0] / max(row.agreement[1], 1):.1f} %"
    )
    cells = [
        row.name,
        str(row.labels),
        str(row.singletons),
        f"{100 * row.largest:.1f} %",
        f"{row.entropy:.2f}",
        "–" if row.balance is None else f"{row.balance:.3f}",
        agreement,
        "yes" if not row.problems else f"no ({row.problems} problem(s))",
    ]
    if run:
        cells += ["–" if x is None else f"{x:.1f} %" for x in (row.mapped_top1, row.summed_top1)]
    return cells


def format_markdown(
    rows: Sequence[Row], ari: dict[tuple[str, str], float], reference: str | None = None
) -> str:
    run = any(row.mapped_top1 is not None for row in rows)
    columns = list(COLUMNS if run else COLUMNS[:-2])
    if reference:
        columns[columns.index("agreement")] = f"agreement with {reference}"
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cells(row, run)) + " |" for row in rows]
    names = [row.name for row in rows]
    lines += [
        "",
        "Adjusted Rand index between the label sets:",
        "",
        "| | " + " | ".join(names) + " |",
        "|" + "---|" * (len(names) + 1),
    ]
    lines += [
        "| " + a + " | " + " | ".join("1" if a == b else f"{ari[a, b]:.3f}" for b in names) + " |"
        for a in names
    ]
    return "\n".join(lines) + "\n"


def format_csv(rows: Sequence[Row], ari: dict[tuple[str, str], float]) -> str:
    """One line per set: the figures as plain numbers, then its ARI with each set."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    names = [row.name for row in rows]
    writer.writerow(
        [
            "label_set",
            "classes",
            "labels",
            "singletons",
            "largest_share",
            "entropy_bits",
            "balance",
            "agreement_same",
            "agreement_classes",
            "problems",
            "top1_argmax_then_map",
            "top1_summed_softmax",
            *(f"ari_{name}" for name in names),
        ]
    )
    for row in rows:
        same, total = row.agreement or ("", "")
        writer.writerow(
            [
                row.name,
                row.classes,
                row.labels,
                row.singletons,
                f"{row.largest:.6f}",
                f"{row.entropy:.6f}",
                "" if row.balance is None else f"{row.balance:.6f}",
                same,
                total,
                row.problems,
                *("" if x is None else f"{x:.4f}" for x in (row.mapped_top1, row.summed_top1)),
                *("1" if row.name == b else f"{ari[row.name, b]:.6f}" for b in names),
            ]
        )
    return out.getvalue()
