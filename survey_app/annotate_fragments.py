"""The annotate page's template fragments, rendered once per process and kept
per class: the member sets and the candidate list (templates/_member_set.html,
_chain.html) were most of the page's template work."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from markupsafe import Markup

from survey_app.annotate_data import Candidate, ClassView
from survey_app.caches import kept


@dataclass(frozen=True)
class _Rendered:
    candidates: tuple[Candidate, ...]  # of the view the fragments were rendered from
    member_sets: tuple[tuple[str, Markup], ...]  # (candidate, what choosing it would merge)
    # (selected, own vote, suggestion shown) -> candidate list
    chains: dict[tuple[str | None, str | None, bool], Markup]


def fragments(
    view: ClassView, selected: str | None, show_suggestion: bool
) -> tuple[tuple[tuple[str, Markup], ...], Markup]:
    """The member sets and the candidate list of the annotate page, which depend
    only on the class's view, the selected candidate and the annotator's vote. A
    view rebuilt from other search counts brings a new `candidates` tuple, which
    starts the class afresh; while templates auto-reload, nothing is kept."""
    env = current_app.jinja_env
    by_class = kept("page_fragments", None, dict)
    rendered = by_class.get(view.wnid)
    if rendered is None or rendered.candidates is not view.candidates or env.auto_reload:
        member_set = env.get_template("_member_set.html").module.member_set
        rendered = _Rendered(
            view.candidates, tuple((c.wnid, member_set(c)) for c in view.candidates), {}
        )
        by_class[view.wnid] = rendered
    if all(c.wnid != selected for c in view.candidates):
        selected = None  # a refused vote's choice: as many keys as requests otherwise
    mine = view.my_vote.synset_wnid if view.my_vote else None
    key = (selected, mine, show_suggestion)
    chain = rendered.chains.get(key)
    if chain is None:
        chain = env.get_template("_chain.html").module.chain(view, selected, mine, show_suggestion)
        rendered.chains[key] = chain
    return rendered.member_sets, chain
