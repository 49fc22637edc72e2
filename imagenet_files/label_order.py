"""The ILSVRC devkit's class-ID order: which wnid each 1-based label of the official
Downsampled ImageNet files stands for.

That order is not the sorted-wnid order of torchvision's ImageFolder (no position agrees), so
reading the files without this table silently trains on scrambled classes. The table ships as
`imagenet_files/data/imagenet32_label_order.txt` (lines `L WNID`); a user may pass the devkit's own
`map_clsloc.txt` (lines `WNID L NAME`) or a devkit folder holding one instead.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from clustering.hierarchy import WNID_RE

SHIPPED_TABLE = "imagenet32_label_order.txt"


class LabelOrderError(ValueError):
    """A label-order file that cannot be used; the message says what is wrong with it."""


def read_label_order(source: Path | None = None) -> list[str]:
    """The wnids in devkit order: element L-1 is the class that label L stands for.

    `source` is None (the shipped table), a `map_clsloc.txt`-style file, or a folder searched
    for `map_clsloc.txt` (an unpacked devkit).
    """
    if source is None:
        text = resources.files("imagenet_files").joinpath("data", SHIPPED_TABLE).read_text()
        return parse_label_order(text, origin=f"imagenet_files/data/{SHIPPED_TABLE}")
    path = Path(source)
    if path.is_dir():
        found = sorted(path.rglob("map_clsloc.txt"))
        if not found:
            raise LabelOrderError(f"{path} is a folder without a map_clsloc.txt in it")
        path = found[0]
    if not path.is_file():
        raise LabelOrderError(f"label order file {path} does not exist")
    return parse_label_order(path.read_text(), origin=str(path))


def parse_label_order(text: str, origin: str = "label order") -> list[str]:
    """Parse lines holding a wnid and its 1-based label, in either column order.

    Both `1 n02119789` (the shipped table) and `n02119789 1 kit_fox` (map_clsloc.txt) are read;
    the labels must be exactly 1..N, each wnid once.
    """
    by_label: dict[int, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        tokens = line.split()
        if not tokens:
            continue
        wnid = next((t for t in tokens[:2] if WNID_RE.match(t)), None)
        label = next((int(t) for t in tokens[:2] if t.isdigit()), None)
        if wnid is None or label is None:
            raise LabelOrderError(
                f"{origin}, line {number}: expected a wnid and a label number, got {line!r}"
            )
        if label in by_label:
            raise LabelOrderError(f"{origin}, line {number}: label {label} appears twice")
        by_label[label] = wnid
    if not by_label:
        raise LabelOrderError(f"{origin} holds no labels")
    if sorted(by_label) != list(range(1, len(by_label) + 1)):
        raise LabelOrderError(f"{origin}: labels must run 1..{len(by_label)} without gaps")
    order = [by_label[label] for label in range(1, len(by_label) + 1)]
    if len(set(order)) != len(order):
        raise LabelOrderError(f"{origin}: a wnid appears under two labels")
    return order
