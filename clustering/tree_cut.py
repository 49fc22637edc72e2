"""Labels from a curated tree over the classes, cut at a level.

The tree is any user-supplied hierarchy in BREEDS' published format (Santurkar
et al., 2020; the files of the BREEDS-Benchmarks repository, `imagenet_class_hierarchy/
modified/`, which the `robustness` package's `setup_breeds` downloads):

- `class_hierarchy.txt`: one edge per line, "PARENT_WNID CHILD_WNID";
- `node_names.txt` (optional): "WNID<TAB>name" per line, used in reports only.

A node's level is its shortest distance from a root (a node without parent), as
BREEDS counts it. Cutting at level L sends each class to its ancestor at level L
(itself when the class sits at level L or above); where several ancestors sit at L
(a node with two parents), the one over more of the classes wins, then the lower
wnid. The tree's groups are kept as they are; their names must be WordNet:

- a group whose node is a synset on every member's chain is labelled by it;
- otherwise (BREEDS moved classes away from their WordNet parents) by the deepest
  synset on every member's chain, the group's lowest common WordNet ancestor,
  as NBDT names its induced nodes; such groups are reported as renamed.

Classes the tree leaves out (a curated tree need not place every class) join
the most specific chosen label above them in WordNet, where their own WordNet
parents would put them, else keep their own label; both counts are reported. A renamed group can sit above
another group's label in WordNet; the conflict policy settles that as for every
strategy.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass
from pathlib import Path

from clustering.errors import ClusteringError
from clustering.hierarchy import WNID_RE, Hierarchy

__all__ = [
    "HIERARCHY_FILE",
    "NAMES_FILE",
    "Cut",
    "Tree",
    "TreeFormatError",
    "cut_tree",
    "read_tree",
]

HIERARCHY_FILE = "class_hierarchy.txt"
NAMES_FILE = "node_names.txt"


class TreeFormatError(ClusteringError, ValueError):
    """A tree file that cannot be read; the message names the file and line."""


@dataclass(frozen=True)
class Tree:
    parents: dict[str, tuple[str, ...]]  # node -> its parents (sorted)
    names: dict[str, str]  # node -> name, where node_names.txt gives one
    level: dict[str, int]  # node -> shortest distance from a root
    source: str

    def ancestors_at(self, node: str, level: int) -> list[str]:
        """The node's ancestors (or itself) at `level`, sorted."""
        found, frontier, seen = set(), [node], {node}
        while frontier:
            following = []
            for current in frontier:
                if self.level[current] == level:
                    found.add(current)
                elif self.level[current] > level:
                    following.extend(p for p in self.parents.get(current, ()) if p not in seen)
                    seen.update(self.parents.get(current, ()))
            frontier = following
        return sorted(found)

    def name(self, node: str) -> str:
        return self.names.get(node, node)


def read_tree(path: str | Path) -> Tree:
    """The tree in `path`: a `class_hierarchy.txt` or a folder holding one (and perhaps
    `node_names.txt`, also read from beside the file)."""
    path = Path(path)
    if path.is_dir():
        path = path / HIERARCHY_FILE
    if not path.is_file():
        raise TreeFormatError(
            f"{path} does not exist; BREEDS' {HIERARCHY_FILE} and "
            f"{NAMES_FILE} come from the BREEDS-Benchmarks repository "
            "(see the README)"
        )
    parents: dict[str, set[str]] = {}
    nodes: set[str] = set()
    for number, line in _lines(path):
        fields = line.split()
        if len(fields) != 2 or not all(WNID_RE.match(f) for f in fields):
            raise TreeFormatError(
                f"{path}, line {number}: expected 'PARENT_WNID CHILD_WNID', found {line!r}"
            )
        parent, child = fields
        if parent == child:
            raise TreeFormatError(f"{path}, line {number}: {child} is its own parent")
        parents.setdefault(child, set()).add(parent)
        nodes.update(fields)
    if not nodes:
        raise TreeFormatError(f"{path} holds no edges")
    names = {}
    names_path = path.parent / NAMES_FILE
    if names_path.is_file():
        for number, line in _lines(names_path):
            wnid, _, name = line.partition("\t") if "\t" in line else line.partition(" ")
            if not WNID_RE.match(wnid.strip()):
                raise TreeFormatError(
                    f"{names_path}, line {number}: expected 'WNID<TAB>name', found {line!r}"
                )
            names[wnid.strip()] = name.strip()
    frozen = {child: tuple(sorted(ps)) for child, ps in parents.items()}
    return Tree(frozen, names, _levels(nodes, frozen, path), str(path))


def _lines(path: Path):
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if line and not line.startswith("#"):
            yield number, line


def _levels(nodes: set[str], parents: dict[str, tuple[str, ...]], path: Path) -> dict[str, int]:
    """Shortest distance from a root, by breadth-first search down the edges. The edges
    are first sorted topologically: a node that cannot be lies on or below a cycle."""
    children: dict[str, list[str]] = {}
    for child, ps in parents.items():
        for parent in ps:
            children.setdefault(parent, []).append(child)
    waiting = {node: len(parents.get(node, ())) for node in nodes}
    ready = [node for node, count in waiting.items() if count == 0]
    roots = sorted(ready)
    while ready:
        for child in children.get(ready.pop(), ()):
            waiting[child] -= 1
            if waiting[child] == 0:
                ready.append(child)
    cyclic = sorted(node for node, count in waiting.items() if count > 0)
    if cyclic:
        raise TreeFormatError(
            f"{path}: {len(cyclic)} node(s) lie on or below a cycle: {', '.join(cyclic[:10])}"
        )
    level = dict.fromkeys(roots, 0)
    queue = deque(roots)
    while queue:
        node = queue.popleft()
        for child in children.get(node, ()):
            if child not in level:
                level[child] = level[node] + 1
                queue.append(child)
    return level


@dataclass(frozen=True)
class Cut:
    assignment: dict[str, str]  # class wnid -> label synset
    groups: dict[str, str]  # tree node at the level -> the synset labelling it
    renamed: dict[str, str]  # tree nodes off a member's WordNet chain -> their synset
    left_out_joined: tuple[str, ...]  # classes not in the tree, put under a chosen label
    left_out_alone: tuple[str, ...]  # classes not in the tree, kept as their own label

    def report(self, tree: Tree, hierarchy: Hierarchy, shown: int = 10) -> list[str]:
        """Lines for a person: the renamed groups and the left-out classes."""
        lines = []
        for node, synset in sorted(self.renamed.items())[:shown]:
            lines.append(
                f"tree node {tree.name(node)} ({node}) is not on every member's "
                f"WordNet chain: labelled {hierarchy.label(synset)} ({synset})"
            )
        if len(self.renamed) > shown:
            lines.append(f"... and {len(self.renamed) - shown} more renamed nodes")
        left_out = len(self.left_out_joined) + len(self.left_out_alone)
        if left_out:
            lines.append(
                f"{left_out} of {len(hierarchy.classes)} classes are not in the tree: "
                f"{len(self.left_out_joined)} joined the chosen label above them in "
                f"WordNet, {len(self.left_out_alone)} kept their own label"
            )
        return lines


def cut_tree(tree: Tree, hierarchy: Hierarchy, level: int) -> Cut:
    """The hierarchy's classes grouped by `tree` at `level` (see the module's docstring)."""
    if level < 0:
        raise ValueError(f"the level must be at least 0, got {level}")
    in_tree = [c.wnid for c in hierarchy.classes if c.wnid in tree.level]
    at_level = {wnid: tree.ancestors_at(wnid, level) for wnid in in_tree}
    sizes = Counter(node for nodes in at_level.values() for node in nodes)
    members: dict[str, list[str]] = {}
    for wnid in in_tree:
        nodes = at_level[wnid]
        node = min(nodes, key=lambda n: (-sizes[n], n)) if nodes else wnid
        members.setdefault(node, []).append(wnid)
    groups, renamed = {}, {}
    for node, classes in members.items():
        if all(node in hierarchy.chain_wnids(c) for c in classes):
            groups[node] = node
        else:
            groups[node] = renamed[node] = hierarchy.meet(classes)
    assignment = {c: groups[node] for node, classes in members.items() for c in classes}
    chosen = set(groups.values())
    joined, alone = [], []
    for image_class in hierarchy.classes:
        if image_class.wnid in assignment:
            continue
        above = [w for w in hierarchy.chain_wnids(image_class.wnid) if w in chosen]
        if above:
            assignment[image_class.wnid] = hierarchy.deepest(above)
            joined.append(image_class.wnid)
        else:
            assignment[image_class.wnid] = image_class.wnid
            alone.append(image_class.wnid)
    return Cut(assignment, groups, renamed, tuple(joined), tuple(alone))
