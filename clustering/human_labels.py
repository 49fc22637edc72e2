"""Human labels to learn and score the entry-level model from: any CIL, flat or rich.

A rich CIL names each label's synset. A flat file names labels only, so each
name is looked up on its class's own chain (`resolve_name`; where two synsets
of the chain carry the name, the deepest, as the published labels' provenance
says they were chosen). A label off the class's chain cannot teach which
candidate people choose, and is left out and counted.

The original project's published labels ship as `data/published_cil_v3.json`
(see `data/README.md` for their provenance).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from clustering.cil import cil_from_json, read_cil_json, resolve_name
from clustering.hierarchy import Hierarchy

__all__ = ["PUBLISHED_LABELS", "HumanLabels", "published_labels_path", "read_human_labels"]

PUBLISHED_LABELS = "data/published_cil_v3.json"  # inside the clustering package


@dataclass(frozen=True)
class HumanLabels:
    labels: dict[str, str]  # class wnid -> the chosen synset, on the class's chain
    off_chain: tuple[str, ...]  # classes whose label is no synset of their chain
    not_in_hierarchy: int  # classes of the file the hierarchy lacks
    source: str

    def describe(self) -> str:
        return (
            f"{self.source}: {len(self.labels)} classes with a label on their chain"
            + (f", {len(self.off_chain)} with a label off it (left out)" if self.off_chain else "")
            + (f", {self.not_in_hierarchy} not in the hierarchy" if self.not_in_hierarchy else "")
        )


def published_labels_path() -> Path:
    """The file of the original project's published labels, shipped with the package."""
    return Path(str(resources.files("clustering").joinpath(PUBLISHED_LABELS)))


def read_human_labels(path: str | Path | None, hierarchy: Hierarchy) -> HumanLabels:
    """The labels of the CIL at `path` (None: the published labels shipped with the project)."""
    source = f"clustering/{PUBLISHED_LABELS}" if path is None else str(path)
    data = read_cil_json(published_labels_path() if path is None else path)
    cil = cil_from_json(data, source)  # for a flat file, only its shape checks
    rich = "format" in data
    if rich:
        by_index = cil.label_by_index()
        named = {c.wnid: by_index[c.label_index].wnid for c in cil.classes}
    else:  # names, resolved on each class's chain below
        named = dict(data)
    labels, off_chain, unknown = {}, [], 0
    for wnid, label in sorted(named.items()):
        if wnid not in hierarchy.class_index:
            unknown += 1
            continue
        synset = label if rich else resolve_name(hierarchy, wnid, label)[0]
        if synset and synset in hierarchy.chain_wnids(wnid):
            labels[wnid] = synset
        else:
            off_chain.append(wnid)
    return HumanLabels(labels, tuple(off_chain), unknown, source)
