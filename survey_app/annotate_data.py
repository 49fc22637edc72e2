"""The annotate page's data: everything the page and `/api/classes/<wnid>` show
about one class, built in one place so the page and the API never disagree.

Reads the hierarchy from the per-process cache (`hierarchy_from_db`), the
search counts as the process last read them (`recent_counts`), and only the
annotator's own vote from the database. A class's view depends on nothing
else, so it is built once per process and kept (caches.py) for as long as its
counts stay the same.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from sqlalchemy import Row

from clustering.cil import normalize_name, unique_names
from clustering.familiarity import synset_familiarity, terms_for_synset
from clustering.hierarchy import Hierarchy
from clustering.popularity import WEB_CORPUS_TOKENS, format_count
from clustering.strategies import TOO_GENERAL, suggest_label
from survey_app import images
from survey_app.caches import kept
from survey_app.counts import recent_counts
from survey_app.database import hierarchy_from_db, require_class
from survey_app.votes import latest_vote

MEMBERS_SHOWN = 10
NUMBER_KEYS = 9  # keys 1-9 pick the nine most specific candidates, 1 the class itself


@dataclass(frozen=True)
class Member:
    """Another ImageNet class under a candidate: what choosing it would merge."""

    wnid: str
    name: str
    image: str | None


@dataclass(frozen=True)
class Candidate:
    wnid: str
    name: str
    lemmas: tuple[str, ...]
    gloss: str
    depth: int
    paths: tuple[int, ...]  # which hypernym paths of the class hold it (0-based)
    on_all_paths: bool
    paths_meet: bool  # the first entry shared by all paths after they went apart
    count: int | None  # sense-aware: the word's count times this sense's share of it
    count_text: str
    count_lemma: str  # the lemma the count came from (the best of the synset's)
    provider: str
    count_meaning: str  # the count in words, for the title and screen readers (count_meaning)
    original: bool
    suggested: bool
    key: int | None  # the number key that selects it
    members: tuple[Member, ...]  # up to MEMBERS_SHOWN of them
    merged: int  # how many other classes lie under it

    @property
    def count_title(self) -> str:
        """The count's meaning and what it is for, shown on hovering it."""
        return f"{self.count_meaning}: {FAMILIARITY_HINT}"


@dataclass(frozen=True)
class ClassView:
    wnid: str
    index: int
    name: str
    gloss: str
    lemmas: tuple[str, ...]
    n_paths: int
    images: tuple[str, ...]
    candidates: tuple[Candidate, ...]
    suggestion: str
    folded: int  # candidates from the root down folded as "more general" (general_prefix)
    count_notes: tuple[str, ...]  # the key help's word on the counts (count_notes)
    my_vote: Row | None  # a row of `votes` (see votes.latest_vote)

    @property
    def selected(self) -> str:
        """The pre-selected candidate: the annotator's vote, else the suggestion."""
        return self.my_vote.synset_wnid if self.my_vote else self.suggestion

    @property
    def parting_point(self) -> Candidate | None:
        """The last candidate on all paths before they go apart."""
        first_apart = next((i for i, c in enumerate(self.candidates) if not c.on_all_paths), None)
        return self.candidates[first_apart - 1] if first_apart else None

    @property
    def meeting_point(self) -> Candidate | None:
        return next((c for c in self.candidates if c.paths_meet), None)


def display_names() -> dict[str, str]:
    """wnid -> a name unique in the hierarchy ("crane (wading bird)"), built once
    per seeded hierarchy."""
    return kept("display_names", None, _display_names)


def _display_names() -> dict[str, str]:
    hierarchy = hierarchy_from_db()
    return unique_names(hierarchy, {w: hierarchy.label(w) for w in hierarchy.synsets})


def general_prefix(hierarchy: Hierarchy, chain: list[str]) -> int:
    """How many entries from the root down (`chain` is root first) are too general
    to name a picture (the strategies' `TOO_GENERAL`), the class itself never:
    the pages fold them behind one "more general" row. For display only; the
    suggestion's model does not use the list."""
    folded = 0
    for wnid in chain[:-1]:
        if normalize_name(hierarchy.label(wnid)) not in TOO_GENERAL:
            break
        folded += 1
    return folded


_UNITS = {"K": "thousand", "M": "million", "B": "billion", "T": "trillion"}


def count_in_words(count: int) -> str:
    """A count as a person says it: "about 170 thousand", "about 2.9 billion", "999"."""
    text = format_count(count)
    unit = _UNITS.get(text[-1])
    return f"about {text[:-1]} {unit}" if unit else text


# What a count is, per provider (clustering.popularity), in words a lay annotator
# reads: "170K wordfreq" said nothing. `{n}` is the count in words, `{word}` the
# lemma it came from; each count is that word's, times this sense's share of it
# (clustering.familiarity). Wikipedia's window is the 12 months `fill-counts` reads.
_CORPUS = count_in_words(WEB_CORPUS_TOKENS).removeprefix("about ")
COUNT_MEANINGS = {
    "wordfreq": f"{{n}} uses of “{{word}}” in this sense per {_CORPUS} words of English "
    "text, as the wordfreq word-frequency list estimates",
    "wikipedia": "{n} views of the English Wikipedia article “{word}” in a year, "
    "this sense’s share",
    "google": "{n} Google search results for “{word}”, this sense’s share",
    "json": "a count of {n} for “{word}” in this sense, from the counts file",
}
FAMILIARITY_HINT = "a hint of how familiar the word is"


def count_meaning(count: int | None, word: str, provider: str) -> str:
    """What a candidate's count says, in words: "about 126 million uses of “dog” in
    this sense per 1 trillion words of English text, as the wordfreq word-frequency
    list estimates". A provider with no wording here (a row from a provider since
    removed) is named as it is."""
    if count is None:
        return f"no count for “{word}” yet"
    if count == 0 and provider == "wordfreq":
        return (
            f"0 uses of “{word}” per {_CORPUS} words of English text (too rare for the "
            "wordfreq word-frequency list)"
        )
    meaning = COUNT_MEANINGS.get(provider, "a count of {n} for “{word}” from " + provider)
    return meaning.format(n=count_in_words(count), word=word)


def count_notes(entries: Iterable[tuple[str, int | None, str, str]]) -> tuple[str, ...]:
    """The word on the counts for the key help and the class list: one example per
    provider, from `entries` (name, count, the word counted, provider) in the
    order examples are preferred: "“126M wordfreq” beside dog: about 126 million
    uses of “dog” ..."."""
    examples: dict[str, str] = {}
    for name, count, word, provider in entries:
        if count and provider not in examples:
            examples[provider] = (
                f"“{format_count(count)} {provider}” beside {name}: "
                f"{count_meaning(count, word, provider)}"
            )
    return tuple(examples.values())


def _members(
    descendants: tuple[str, ...], class_wnid: str, names: dict[str, str]
) -> tuple[Member, ...]:
    """Up to MEMBERS_SHOWN classes other than `class_wnid`, spread evenly over
    the descendants: for "dog", not ten toy terriers in a row."""
    n, k = len(descendants), MEMBERS_SHOWN + 1  # one more, as the class itself may be picked
    picks = descendants if n <= k else [descendants[i * n // k] for i in range(k)]
    others = [w for w in picks if w != class_wnid][:MEMBERS_SHOWN]
    return tuple(Member(w, names[w], images.first_thumbnail_url(w)) for w in others)


def build_class_view(class_wnid: str, user_id: int) -> ClassView:
    """Raises UnknownClass for a wnid that is not a class of the survey."""
    require_class(class_wnid)
    return class_view(class_wnid, latest_vote(user_id, class_wnid))


def class_view(class_wnid: str, my_vote: Row | None) -> ClassView:
    """The view of a known class with the annotator's vote, read by the caller."""
    return replace(_kept_view(class_wnid), my_vote=my_vote)


def _kept_view(class_wnid: str) -> ClassView:
    """The class's view without a vote, built once per process and search counts. A view
    is checked against the counts only when the process has read other counts than
    those it was last checked on (counts.recent_counts): not on every page."""
    views = kept("class_views", None, dict)
    built = views.get(class_wnid)
    recent = recent_counts()
    # One token per distinct read of the counts; the views keep the token rather than
    # the read, which would keep every older read alive.
    read = kept("counts_read", recent, object)
    if built is not None and built.checked is read:
        return built.view
    if built is None:
        hierarchy = hierarchy_from_db()
        terms = {
            e.wnid: tuple(terms_for_synset(hierarchy.synsets[e.wnid].lemmas))
            for e in hierarchy.image_class(class_wnid).chain
        }
    else:
        terms = built.terms
    counts = chain_counts(terms, recent)
    if built is None or built.counts != counts:
        built = _BuiltView(terms, counts, read, _class_view(class_wnid, terms, counts))
    else:
        built = replace(built, checked=read)
    views[class_wnid] = built
    return built.view


def chain_counts(
    terms: dict[str, tuple[str, ...]], recent: dict[str, tuple[int | None, str]]
) -> dict[str, tuple[int | None, str]]:
    """The counts of a chain's search terms, among those the process read."""
    return {
        term: recent[term]
        for chain_terms in terms.values()
        for term in chain_terms
        if term in recent
    }


@dataclass(frozen=True)
class _BuiltView:
    terms: dict[str, tuple[str, ...]]  # chain wnid -> its search terms
    counts: dict[str, tuple[int | None, str]]  # the cached counts the view was built from
    checked: object  # the token of the read of the counts it was last checked on
    view: ClassView


def _class_view(
    class_wnid: str, terms: dict[str, tuple[str, ...]], cached: dict[str, tuple[int | None, str]]
) -> ClassView:
    """The view of a class with the given search counts, and no vote."""
    hierarchy = hierarchy_from_db()
    names = display_names()
    image_class = hierarchy.image_class(class_wnid)
    word_counts = {term: count for term, (count, _provider) in cached.items()}
    familiarity = {wnid: synset_familiarity(hierarchy.synsets[wnid], word_counts) for wnid in terms}
    suggestion = suggest_label(hierarchy, class_wnid, familiarity)
    n_paths = image_class.n_paths
    candidates = []
    on_all_before = True
    for position, entry in enumerate(image_class.chain):
        synset = hierarchy.synsets[entry.wnid]
        on_all = len(entry.paths) == n_paths
        key = len(image_class.chain) - position
        provider = cached.get(familiarity[entry.wnid].lemma, (None, ""))[1]
        descendants = hierarchy.descendants[entry.wnid]  # the class itself among them
        candidates.append(
            Candidate(
                wnid=entry.wnid,
                name=names[entry.wnid],
                lemmas=synset.lemmas,
                gloss=synset.gloss,
                depth=synset.depth,
                paths=entry.paths,
                on_all_paths=on_all,
                paths_meet=on_all and not on_all_before,
                count=familiarity[entry.wnid].count,
                count_text=format_count(familiarity[entry.wnid].count),
                count_lemma=familiarity[entry.wnid].lemma,
                provider=provider,
                count_meaning=count_meaning(
                    familiarity[entry.wnid].count, familiarity[entry.wnid].lemma, provider
                ),
                original=entry.wnid == class_wnid,
                suggested=entry.wnid == suggestion,
                key=key if key <= NUMBER_KEYS else None,
                members=_members(descendants, class_wnid, names),
                merged=len(descendants) - 1,
            )
        )
        on_all_before = on_all
    synset = hierarchy.synsets[class_wnid]
    # The key help's examples: the suggestion's count (a familiar word) first, then
    # those from the class upward.
    upward = candidates[::-1]
    examples = [c for c in upward if c.suggested] + [c for c in upward if not c.suggested]
    return ClassView(
        wnid=class_wnid,
        index=image_class.index,
        name=names[class_wnid],
        gloss=synset.gloss,
        lemmas=synset.lemmas,
        n_paths=n_paths,
        images=tuple(images.image_urls(class_wnid)),
        candidates=tuple(candidates),
        suggestion=suggestion,
        folded=general_prefix(hierarchy, [c.wnid for c in candidates]),
        count_notes=count_notes((c.name, c.count, c.count_lemma, c.provider) for c in examples),
        my_vote=None,
    )
