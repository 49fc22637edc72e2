"""The WordNet hypernym hierarchy above a list of ImageNet classes.

A `Hierarchy` is plain data: built once from WordNet (`from_wordnet`), saved as
JSON, and loaded by the survey app and the clustering job without nltk.
Classes and labels are keyed by wnid (`n02110341`), never by name.
"""

from __future__ import annotations

import hashlib
import json
import re
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import astuple, dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path

from clustering.errors import ClusteringError, ProblemsError
from clustering.gcpause import collector_paused

FORMAT = "cil-hierarchy"
FORMAT_VERSION = 1
WNID_RE = re.compile(r"^n\d{8}$")


class ClassListError(ClusteringError, ValueError):
    """A class list that cannot be used; the message says what to fix."""


class HierarchyFormatError(ClusteringError, ValueError):
    """A file that is not a hierarchy this version can read; the message says why."""


@dataclass(frozen=True)
class LemmaSense:
    """How one lemma's word divides among its noun senses, from WordNet's sense index:
    the basis for sharing a word's search count among the synsets it names."""

    rank: int  # this synset's place among the word's noun senses, 1 = most frequent
    senses: int  # how many noun senses the word has
    tagged: int  # times this sense was tagged in WordNet's sense-tagged corpus (SemCor)
    tagged_all: int  # times any noun sense of the word was tagged


@dataclass(frozen=True)
class Synset:
    wnid: str
    name: str  # nltk's name, e.g. "dalmatian.n.02"
    lemmas: tuple[str, ...]  # e.g. ("dalmatian", "coach_dog", "carriage_dog")
    gloss: str
    depth: int  # longest hypernym path to the root (entity.n.01 has 0)
    # WordNet facts the entry-level model reads; empty in hierarchies saved before them.
    lexname: str = ""  # lexicographer file, e.g. "noun.animal"
    senses: tuple[LemmaSense, ...] = ()  # one per lemma, in lemma order

    @property
    def has_word_facts(self) -> bool:
        return bool(self.lexname) and len(self.senses) == len(self.lemmas)

    @property
    def label(self) -> str:
        """The first lemma in plain words: what a person reads."""
        return self.lemmas[0].replace("_", " ")


@dataclass(frozen=True)
class ChainEntry:
    wnid: str
    paths: tuple[int, ...]  # which of the class's hypernym paths hold this synset


@dataclass(frozen=True)
class ImageClass:
    index: int  # position in sorted wnid order (torchvision's ImageFolder order)
    wnid: str
    chain: tuple[ChainEntry, ...]  # root first, the class itself last
    n_paths: int


@dataclass
class Hierarchy:
    synsets: dict[str, Synset]
    parents: dict[str, tuple[str, ...]]  # child wnid -> hypernym wnids
    classes: list[ImageClass]
    class_index: dict[str, int] = field(init=False)
    descendants: dict[str, tuple[str, ...]] = field(init=False)  # synset -> class wnids
    # Conflict resolution asks for the same synsets' ancestors thousands of times.
    _ancestors: dict[str, frozenset[str]] = field(
        init=False, default_factory=dict, repr=False, compare=False
    )
    # And the aggregation each class's chain, once per vote and per class.
    _chains: dict[str, tuple[str, ...]] = field(
        init=False, default_factory=dict, repr=False, compare=False
    )
    # What other modules derive per synset and ask for per class, kept for the life of
    # the hierarchy (it is mutable, so no cache kept elsewhere could be keyed by it):
    # `clustering.cil` keeps its normalized lemmas here, per synset and per lemma, and the
    # aggregation what the next one after a vote takes over where its inputs are equal
    # (`clustering.conflict_memo`, the chosen labels' places, the log priors).
    derived: dict[str, object] = field(init=False, default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.class_index = {c.wnid: c.index for c in self.classes}
        below: dict[str, list[str]] = {}
        for image_class in self.classes:
            for entry in image_class.chain:
                below.setdefault(entry.wnid, []).append(image_class.wnid)
        self.descendants = {wnid: tuple(members) for wnid, members in below.items()}

    # --- queries -------------------------------------------------------------------
    def image_class(self, wnid: str) -> ImageClass:
        try:
            return self.classes[self.class_index[wnid]]
        except KeyError:
            raise KeyError(f"{wnid} is not one of the hierarchy's classes") from None

    def chain_wnids(self, class_wnid: str) -> list[str]:
        return list(self.chain(class_wnid))

    def chain(self, class_wnid: str) -> tuple[str, ...]:
        """The class's chain of wnids, the class first, kept: what a vote for it may name."""
        known = self._chains.get(class_wnid)
        if known is None:
            entries = self.image_class(class_wnid).chain
            known = self._chains[class_wnid] = tuple(entry.wnid for entry in entries)
        return known

    def ancestors(self, wnid: str) -> frozenset[str]:
        """All hypernyms of a synset, transitively (not the synset itself)."""
        known = self._ancestors.get(wnid)
        if known is None:
            found: set[str] = set()
            for parent in self.parents.get(wnid, ()):
                found |= {parent} | self.ancestors(parent)
            known = self._ancestors[wnid] = frozenset(found)
        return known

    def is_ancestor(self, ancestor: str, wnid: str) -> bool:
        return ancestor != wnid and ancestor in self.ancestors(wnid)

    def deepest(self, wnids: Iterable[str]) -> str:
        """The deepest of the synsets `wnids` (longest path to the root); ties go to the
        lowest wnid."""
        return min(wnids, key=lambda w: (-self.synsets[w].depth, w))

    def meet(self, class_wnids: Iterable[str]) -> str:
        """The deepest synset on every one of the classes' chains."""
        return self.deepest(set.intersection(*(set(self.chain_wnids(c)) for c in class_wnids)))

    def label(self, wnid: str) -> str:
        return self.synsets[wnid].label

    @property
    def multi_path_classes(self) -> list[ImageClass]:
        return [c for c in self.classes if c.n_paths > 1]

    def summary(self) -> dict[str, int]:
        return {
            "classes": len(self.classes),
            "synsets": len(self.synsets),
            "multi_path_classes": len(self.multi_path_classes),
        }

    @cached_property
    def version(self) -> str:
        """A short digest of the structure (synsets, names, edges, classes), recorded in
        every CIL made from it (hashing takes tens of ms, and the review pages ask at every
        aggregation). The word facts are left out, so adding them to a hierarchy saved
        before them keeps its version, and a survey database seeded from it stays valid."""
        # Under a paused collector (`clustering.gcpause`): at ImageNet-21k's size its
        # passes over the hundreds of thousands of lists made here took 1 s of 1.3.
        with collector_paused():
            structure = self.to_dict(word_facts=False)
            digest = hashlib.sha256(json.dumps(structure, sort_keys=True).encode())
        return digest.hexdigest()[:12]

    def remember_version(self, version: str) -> None:
        """Take `version` as `version` without digesting the structure: for a hierarchy
        read back from where this very structure was saved with its version."""
        self.__dict__["version"] = version  # where the cached_property keeps its value

    @property
    def has_word_facts(self) -> bool:
        return all(s.has_word_facts for s in self.synsets.values())

    def with_word_facts(self, wordnet=None) -> Hierarchy:
        """This hierarchy with each synset's lexicographer file and lemma senses read
        from WordNet (a hierarchy saved before they were recorded lacks them)."""
        if self.has_word_facts:
            return self
        wordnet = wordnet or _default_wordnet()
        synsets = {
            wnid: _synset_from_nltk(wordnet.synset(s.name), wordnet)
            for wnid, s in self.synsets.items()
        }
        return Hierarchy(synsets, dict(self.parents), list(self.classes))

    # --- JSON ----------------------------------------------------------------------
    def to_dict(self, word_facts: bool = True) -> dict:
        """The hierarchy as JSON data; `word_facts=False` leaves out the synsets' word
        facts, as a hierarchy saved before them lacks them."""
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "synsets": {
                s.wnid: {
                    "name": s.name,
                    "lemmas": list(s.lemmas),
                    "gloss": s.gloss,
                    "depth": s.depth,
                    "parents": list(self.parents.get(s.wnid, ())),
                    **(
                        {"lexname": s.lexname, "senses": [list(astuple(x)) for x in s.senses]}
                        if word_facts and s.has_word_facts
                        else {}
                    ),
                }
                for s in self.synsets.values()
            },
            "classes": [
                {
                    "index": c.index,
                    "wnid": c.wnid,
                    "n_paths": c.n_paths,
                    "chain": [[e.wnid, list(e.paths)] for e in c.chain],
                }
                for c in self.classes
            ],
        }

    @classmethod
    def from_dict(cls, data: dict) -> Hierarchy:
        if not isinstance(data, dict):
            raise HierarchyFormatError(
                f"not a hierarchy file (a JSON {type(data).__name__}, not an object)"
            )
        if data.get("format") != FORMAT:
            raise HierarchyFormatError(f"not a hierarchy file (format is {data.get('format')!r})")
        if data.get("format_version") != FORMAT_VERSION:
            raise HierarchyFormatError(
                f"unsupported hierarchy format version {data.get('format_version')}"
            )
        synsets = {
            wnid: Synset(
                wnid,
                s["name"],
                tuple(s["lemmas"]),
                s["gloss"],
                s["depth"],
                s.get("lexname", ""),
                tuple(LemmaSense(*x) for x in s.get("senses", ())),
            )
            for wnid, s in data["synsets"].items()
        }
        parents = {wnid: tuple(s["parents"]) for wnid, s in data["synsets"].items() if s["parents"]}
        classes = [
            ImageClass(
                c["index"],
                c["wnid"],
                tuple(ChainEntry(w, tuple(p)) for w, p in c["chain"]),
                c["n_paths"],
            )
            for c in data["classes"]
        ]
        return cls(synsets, parents, classes)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), sort_keys=True, indent=1) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> Hierarchy:
        # Paused: a fresh process's cycle collector otherwise walks the growing
        # hierarchy again and again while it is read (2/3 of 1.5 s at 21k classes).
        with collector_paused():
            try:
                data = json.loads(Path(path).read_text())
            except FileNotFoundError:
                raise FileNotFoundError(
                    f"{path} does not exist; write it with "
                    f"`python -m clustering hierarchy --out {path}`"
                ) from None
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise HierarchyFormatError(f"{path} is not valid JSON: {exc}") from None
            try:
                return cls.from_dict(data)
            except HierarchyFormatError as exc:
                raise HierarchyFormatError(f"{path}: {exc}") from None

    @classmethod
    def load_or_build(cls, path: str | Path, classes: str | Path | None = None) -> Hierarchy:
        """The hierarchy saved at `path`; built from WordNet for the class list `classes`
        (see `class_list_sources`) and saved there when the file does not exist yet. A file
        saved before the word facts were recorded gets them from WordNet, and is saved again."""
        path = Path(path)
        if path.exists():
            hierarchy = cls.load(path)
            if not hierarchy.has_word_facts:
                hierarchy = hierarchy.with_word_facts()
                hierarchy.save(path)
            return hierarchy
        hierarchy = cls.from_class_list(classes)
        path.parent.mkdir(parents=True, exist_ok=True)
        hierarchy.save(path)
        return hierarchy

    # --- building from WordNet ------------------------------------------------------
    @classmethod
    def from_class_list(cls, source: str | Path | None, wordnet=None) -> Hierarchy:
        """Build the hierarchy above the class list `source` (see `class_list_sources`);
        a wnid that is not a noun synset is refused at its line."""
        sources = class_list_sources(source)
        return cls.from_wordnet(sorted(sources), wordnet, sources=sources)

    @classmethod
    def from_wordnet(
        cls, wnids: list[str], wordnet=None, sources: Mapping[str, str] | None = None
    ) -> Hierarchy:
        """Build the hierarchy above `wnids` (noun synsets of WordNet 3.0). `sources`
        (wnid -> where it was listed) names the line of each wnid WordNet does not know."""
        wordnet = wordnet or _default_wordnet()
        wnids = sorted(set(wnids))
        leaves = {}
        unknown = []
        for wnid in wnids:
            synset = _synset_at(wordnet, "n", wnid)
            if synset is None:
                unknown.append(wnid)
            else:
                leaves[wnid] = synset
        if unknown:
            where = sources or {}
            problems = [
                f"{where[w] + ': ' if w in where else ''}{w} is not a WordNet 3.0 noun "
                f"synset{_other_part_of_speech(wordnet, w)}"
                for w in unknown
            ]
            raise ClassListProblems(
                "the class list",
                problems
                + ["check the class list: each entry must be an ImageNet wnid such as n02110341"],
            )
        synsets: dict[str, Synset] = {}
        parents: dict[str, tuple[str, ...]] = {}
        classes = []
        for index, wnid in enumerate(wnids):
            # nltk's path order follows set iteration (PYTHONHASHSEED); sorting makes
            # path numbers, chain order and the version the same on every build.
            paths = sorted(leaves[wnid].hypernym_paths(), key=lambda p: [_wnid(s) for s in p])
            key: dict[str, tuple[int, int]] = {}  # wnid -> (longest position, first path)
            on_paths: dict[str, list[int]] = {}
            for path_number, path in enumerate(paths):
                for position, synset in enumerate(path):
                    swnid = _wnid(synset)
                    on_paths.setdefault(swnid, []).append(path_number)
                    seen = key.get(swnid)
                    key[swnid] = (
                        (position, path_number)
                        if seen is None
                        else (max(seen[0], position), seen[1])
                    )
                    if swnid not in synsets:
                        synsets[swnid] = _synset_from_nltk(synset, wordnet)
                        hypernyms = synset.hypernyms() + synset.instance_hypernyms()
                        if hypernyms:
                            parents[swnid] = tuple(sorted(_wnid(h) for h in hypernyms))
            # Longest distance from the root is a topological order of the DAG,
            # because every root-to-leaf path is among `paths`.
            ordered = sorted(key, key=lambda w: (key[w][0], key[w][1], w))
            chain = tuple(ChainEntry(w, tuple(on_paths[w])) for w in ordered)
            classes.append(ImageClass(index, wnid, chain, len(paths)))
        return cls(synsets, parents, classes)


def _synset_at(wordnet, pos: str, wnid: str):
    """The synset of part of speech `pos` at the offset of `wnid`, or None."""
    from nltk.corpus.reader.wordnet import WordNetError

    try:
        with warnings.catch_warnings():
            # nltk warns about each unknown offset; the caller lists them all.
            warnings.simplefilter("ignore", UserWarning)
            # None for an offset inside a synset's line
            return wordnet.synset_from_pos_and_offset(pos, int(wnid[1:]))
    except (WordNetError, ValueError):  # an offset past the end, a malformed id
        return None


def _other_part_of_speech(wordnet, wnid: str) -> str:
    """ ", but the offset of verb synset eat.v.01" where the offset is another part of
    speech's (a verb's id written with n), else ""."""
    for pos in "vasr":
        synset = _synset_at(wordnet, pos, wnid)
        if synset is not None:
            return f", but the offset of {PARTS_OF_SPEECH[pos]} synset {synset.name()}"
    return ""


def _wnid(synset) -> str:
    return f"{synset.pos()}{synset.offset():08d}"


def _default_wordnet():
    from clustering.wordnet import ensure_wordnet

    return ensure_wordnet()


def _synset_from_nltk(synset, wordnet) -> Synset:
    return Synset(
        _wnid(synset),
        synset.name(),
        tuple(lemma.name() for lemma in synset.lemmas()),
        synset.definition(),
        synset.max_depth(),
        synset.lexname(),
        tuple(_lemma_sense(wordnet, synset, lemma) for lemma in synset.lemmas()),
    )


def _lemma_sense(wordnet, synset, lemma) -> LemmaSense:
    """Where `synset` stands among the noun senses of `lemma`'s word. The tagged counts
    come from WordNet's cntlist (nltk's `Lemma.count()`); most senses have none."""
    word = lemma.name().lower()
    senses = wordnet.synsets(word, "n")  # in WordNet's frequency order
    tagged = [sum(x.count() for x in s.lemmas() if x.name().lower() == word) for s in senses]
    rank = next((i for i, s in enumerate(senses, start=1) if s == synset), len(senses) or 1)
    mine = tagged[rank - 1] if senses and senses[rank - 1] == synset else lemma.count()
    return LemmaSense(rank, max(len(senses), 1), mine, max(sum(tagged), mine))


# --- class lists ---------------------------------------------------------------------
def imagenet1k_wnids() -> list[str]:
    """The 1,000 ImageNet-1k classes, in sorted wnid order."""
    text = resources.files("clustering").joinpath("data/imagenet1k_wnids.txt").read_text()
    return text.split()


# A synset id's letter: its part of speech in WordNet's data files.
PARTS_OF_SPEECH = {"n": "noun", "v": "verb", "a": "adjective", "s": "adjective", "r": "adverb"}
ANY_ID_RE = re.compile(r"^[nvasr]\d{8}$")


class ClassListProblems(ProblemsError, ClassListError):
    """A class list with lines that cannot be used; `problems` names each line."""


def read_class_list(source: str | Path | None) -> list[str]:
    """Wnids from None (ImageNet-1k), a text file (one wnid per line, `#` comments,
    an optional leading index as in the devkit's tables) or a dataset folder whose
    subfolders are wnids (`train/` is looked into when present), sorted."""
    return sorted(class_list_sources(source))


def class_list_sources(source: str | Path | None) -> dict[str, str]:
    """wnid -> where the class list names it ("FILE, line N", "FOLDER/wnid/"), so that a
    wnid WordNet does not know is reported at its line. A file with malformed lines,
    ids of other parts of speech or a wnid listed twice is refused with every such
    line named (`ClassListProblems`)."""
    if source is None:
        return {wnid: "ImageNet-1k" for wnid in imagenet1k_wnids()}
    path = Path(source)
    if path.is_dir():
        folder = path / "train" if (path / "train").is_dir() else path
        wnids = sorted(p.name for p in folder.iterdir() if p.is_dir() and WNID_RE.match(p.name))
        if not wnids:
            raise ClassListError(
                f"{folder} has no subfolders named by wnid (like n02110341/); "
                "give a dataset folder laid out as ROOT/<wnid>/... or a text file of wnids."
            )
        return {wnid: f"{folder / wnid}/" for wnid in wnids}
    if not path.is_file():
        raise ClassListError(
            f"{path} does not exist; give a text file of wnids or a dataset folder."
        )
    lines: dict[str, list[int]] = {}
    problems = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        ids = [t for t in line.split() if ANY_ID_RE.match(t)]
        if len(ids) == 1 and ids[0][0] != "n":
            pos = PARTS_OF_SPEECH[ids[0][0]]
            problems.append(
                f"line {number}: {ids[0]} is a{'n' if pos[0] in 'aeiou' else ''} {pos}'s id; "
                "ImageNet classes are noun synsets (n followed by 8 digits)"
            )
        elif len(ids) != 1:
            problems.append(f"line {number}: expected one wnid (like n02110341), found {line!r}")
        else:
            lines.setdefault(ids[0], []).append(number)
    for wnid, numbers in lines.items():
        if len(numbers) > 1:
            listed = ", ".join(map(str, numbers[:-1])) + f" and {numbers[-1]}"
            problems.append(f"{wnid} is listed on lines {listed}; list each class once")
    if problems:
        raise ClassListProblems(str(path), problems)
    if not lines:
        raise ClassListError(f"{path} holds no wnids.")
    return {wnid: f"{path}, line {numbers[0]}" for wnid, numbers in lines.items()}
