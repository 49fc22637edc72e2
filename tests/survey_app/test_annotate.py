"""The queue, the annotate page, votes, skips, reopening, and bad input."""

import re

import pytest
from sqlalchemy import event, func, select

from clustering.popularity import get_provider
from clustering.strategies import entry_level_assignment
from survey_app import work_queue
from survey_app.database import hierarchy_from_db
from survey_app.extensions import db
from survey_app.models import User, Vote
from survey_app.votes import record_vote

from .conftest import add_user, csrf_token, log_in, make_app, seeded

TENCH, GOLDFISH, OSTRICH, BRAMBLING = "n01440764", "n01443537", "n01518878", "n01530575"
DALMATIAN, DOG, DOMESTIC_ANIMAL, CANINE = "n02110341", "n02084071", "n01317541", "n02083346"


def chain(app, wnid: str) -> list[str]:
    with app.app_context():
        return hierarchy_from_db().chain_wnids(wnid)


def vote_rows(app) -> list[tuple[str, str, str | None]]:
    with app.app_context():
        return [
            (v.class_wnid, v.synset_wnid, v.comment)
            for v in db.session.scalars(select(Vote).order_by(Vote.id))
        ]


def form_fields(page: str) -> dict[str, str]:
    """The hidden fields of the vote form, as the browser would send them back."""
    return dict(
        re.findall(r'<input[^>]*name="(csrf_token|submission_id)"[^>]*value="([^"]*)"', page)
    )


def vote(client, wnid: str, synset: str, comment: str = "", **override):
    fields = form_fields(client.get(f"/annotate/{wnid}").text)
    fields.update(synset=synset, comment=comment, **override)
    return client.post(f"/annotate/{wnid}", data=fields)


def cast(app, username: str, votes: dict[str, str]) -> None:
    """Votes of another annotator, straight into the database."""
    user_id = add_user(app, username)
    with app.app_context():
        user = db.session.get(User, user_id)
        for class_wnid, synset in votes.items():
            record_vote(user, class_wnid, synset)


def test_pages_need_a_login(client):
    for path in ("/", "/next", f"/annotate/{TENCH}", "/done"):
        response = client.get(path)
        assert response.status_code == 302 and response.location.startswith("/login?next=")


def test_next_is_a_started_class_before_a_new_one(app, annotator):
    # (tests/survey_app/test_queue.py has the queue's rules in full.)
    assert annotator.get("/next").location == f"/annotate/{TENCH}"
    cast(app, "xx", {TENCH: TENCH, GOLDFISH: GOLDFISH})
    cast(app, "yy", {TENCH: TENCH})  # two agreeing votes close the tench
    assert annotator.get("/next").location == f"/annotate/{GOLDFISH}"  # started, still open
    with app.app_context():
        every = hierarchy_from_db().class_index
    cast(app, "zz", {w: w for w in every if w not in {TENCH, GOLDFISH}})
    vote(annotator, GOLDFISH, GOLDFISH)  # closes the goldfish
    assert annotator.get("/next").location == f"/annotate/{OSTRICH}"  # one vote, lowest index


def test_annotate_page_shows_the_class_and_its_chain(app, annotator):
    page = annotator.get(f"/annotate/{TENCH}").text
    assert "<h1>tench" in page and "freshwater dace-like game fish" in page
    candidates = re.findall(r'name="synset" value="(n\d{8})"', page)
    assert candidates == chain(app, TENCH)[::-1]  # the class itself first, the root last
    general = page[page.index('<details class="more-general"') :]
    assert general.index("entity") < general.index("</summary>")  # folded, named
    assert f'value="{chain(app, TENCH)[0]}"' in general
    assert 'class="badge original"' in page and 'class="badge suggested"' in page
    assert re.search(r'<span class="count"[^>]*>\d+(\.\d)?[KMB]? <small>wordfreq</small>', page)
    assert "freshwater dace-like game fish" in page.split('id="candidate-')[1]  # gloss inline
    assert page.count('<kbd class="key">') == min(9, len(candidates))
    assert '<kbd class="key">1</kbd>' in page and '<kbd class="key">9</kbd>' in page
    assert "Pictures are off" in page  # no image source in this app
    assert '<script src="/static/annotate.js" defer>' in page


def test_annotate_page_preselects_the_suggestion(app, annotator):
    page = annotator.get(f"/annotate/{DALMATIAN}").text
    assert re.search(rf'value="{DOG}" id="candidate-{DOG}" checked', page)
    assert page.count(" checked") == 1


def test_suggestion_is_the_entry_level_strategys_label_for_every_class(app, annotator):
    with app.app_context():
        hierarchy = hierarchy_from_db()
        expected = entry_level_assignment(hierarchy, get_provider("wordfreq"))
    for image_class in hierarchy.classes:
        shown = annotator.get(f"/api/classes/{image_class.wnid}").get_json()
        assert shown["suggestion"] == expected[image_class.wnid], image_class.wnid


def test_the_class_list_shows_the_annotate_pages_counts(annotator):
    chain = {e["wnid"]: e for e in annotator.get(f"/api/classes/{DALMATIAN}").get_json()["chain"]}
    listed = annotator.get("/classes?q=dalmatian").text
    for wnid in (DALMATIAN, DOG):  # the most general levels are folded on the list
        assert f"<small>{chain[wnid]['count_text']}</small>" in listed, chain[wnid]["name"]


def test_counts_are_per_sense_with_the_lemma_they_came_from(annotator):
    chain = {e["wnid"]: e for e in annotator.get(f"/api/classes/{DALMATIAN}").get_json()["chain"]}
    dog = chain[DOG]
    assert dog["count_lemma"] == "dog"
    # "dog" has seven noun senses; the animal, tagged 42 times of 42, keeps nearly all of it
    assert (
        0.9 * get_provider("wordfreq").count("dog")
        < dog["count"]
        < get_provider("wordfreq").count("dog")
    )


def test_multi_path_class_shows_where_the_paths_meet(annotator):
    page = annotator.get(f"/annotate/{DALMATIAN}").text
    assert "This class has 2 hypernym paths" in page
    assert "meet again at “dog”" in page
    lanes = re.findall(r'<span class="lanes" aria-hidden="true">(.*?)</span>', page)
    assert lanes and all(lane.count('class="lane') == 2 for lane in lanes)
    row = page[page.index(f'value="{DOMESTIC_ANIMAL}"') :]
    row = row[: row.index("</li>")]
    assert "on path 1 only" in row or "on path 2 only" in row  # read out, not a tag per row
    assert 'class="path-tag"' not in page
    dog_row = page[page.index(f'value="{DOG}"') :]
    assert dog_row.index('class="badge meet"') < dog_row.index("</li>")


def test_members_of_each_candidate(annotator):
    page = annotator.get(f"/annotate/{DALMATIAN}").text
    dog_set = re.search(
        rf'<div class="member-set" data-for="{DOG}">(.*?)</div>', page, re.DOTALL
    ).group(1)
    assert "“dog” would merge this class with 1 other" in dog_set
    assert "<li>pug</li>" in dog_set  # no image source: the names, no empty tiles
    assert f'data-for="{CANINE}" hidden' in page  # only the selected candidate's set shows
    assert "“dalmatian” holds no other ImageNet class" in page


def test_vote_is_stored_and_leads_to_the_next_class(app, annotator):
    response = vote(annotator, TENCH, chain(app, TENCH)[-2], comment="  fine  ")
    assert response.status_code == 303 and response.location == f"/annotate/{GOLDFISH}"
    assert vote_rows(app) == [(TENCH, chain(app, TENCH)[-2], "fine")]
    assert "1 of 10" in annotator.get("/").text


def test_vote_for_a_synset_off_the_chain_is_refused(app, annotator):
    response = vote(annotator, TENCH, DOG)
    assert response.status_code == 400 and "Not a valid choice" in response.text
    assert vote(annotator, TENCH, "").status_code == 400
    assert vote(annotator, TENCH, TENCH, comment="x" * 1001).status_code == 400
    assert vote_rows(app) == []


def test_unknown_class_is_404(annotator):
    assert annotator.get("/annotate/n99999999").status_code == 404
    assert annotator.get("/annotate/<script>").status_code == 404
    token = csrf_token(annotator, "/")
    assert (
        annotator.post("/annotate/n99999999", data={"csrf_token": token, "synset": DOG}).status_code
        == 404
    )
    assert annotator.post("/annotate/n99999999/skip", data={"csrf_token": token}).status_code == 404


def test_double_submitted_form_counts_once(app, annotator):
    fields = form_fields(annotator.get(f"/annotate/{TENCH}").text)
    fields.update(synset=TENCH, comment="")
    first = annotator.post(f"/annotate/{TENCH}", data=fields)
    second = annotator.post(f"/annotate/{TENCH}", data=fields)
    assert first.status_code == second.status_code == 303
    assert vote_rows(app) == [(TENCH, TENCH, None)]


def test_submission_id_of_another_vote_is_refused(app, annotator):
    fields = form_fields(annotator.get(f"/annotate/{TENCH}").text)
    annotator.post(f"/annotate/{TENCH}", data={**fields, "synset": TENCH})
    response = annotator.post(f"/annotate/{GOLDFISH}", data={**fields, "synset": GOLDFISH})
    assert response.status_code == 400
    assert vote_rows(app) == [(TENCH, TENCH, None)]


def test_reopen_and_change_a_vote(app, annotator):
    tench, goldfish = chain(app, TENCH), chain(app, GOLDFISH)
    vote(annotator, TENCH, tench[-1])
    vote(annotator, GOLDFISH, goldfish[-1])
    vote(annotator, OSTRICH, chain(app, OSTRICH)[-1])
    page = annotator.get(f"/annotate/{GOLDFISH}").text
    assert re.search(rf'value="{goldfish[-1]}" id="candidate-{goldfish[-1]}" checked', page)
    assert 'class="badge mine">your vote' in page
    assert f'data-previous-url="/annotate/{TENCH}"' in page
    # Changing a reopened vote leads back to new work, not on through older votes.
    response = vote(annotator, GOLDFISH, goldfish[-3])
    assert response.location == f"/annotate/{BRAMBLING}"
    assert vote_rows(app)[-1] == (GOLDFISH, goldfish[-3], None)
    assert len(vote_rows(app)) == 4
    # The same vote again adds nothing; the latest vote is what the page shows.
    vote(annotator, GOLDFISH, goldfish[-3])
    assert len(vote_rows(app)) == 4
    home = annotator.get("/").text
    assert home.count("<tr>") == 4  # header + three classes


def test_previous_of_an_unvoted_class_is_the_last_vote(app, annotator):
    assert 'data-previous-url=""' in annotator.get(f"/annotate/{TENCH}").text
    vote(annotator, TENCH, TENCH)
    assert f'data-previous-url="/annotate/{TENCH}"' in annotator.get(f"/annotate/{GOLDFISH}").text
    assert 'data-previous-url=""' in annotator.get(f"/annotate/{TENCH}").text


def test_a_skipped_class_is_not_served_again(app, annotator):
    token = csrf_token(annotator, "/")
    response = annotator.post(f"/annotate/{TENCH}/skip", data={"csrf_token": token})
    assert response.status_code == 303
    assert annotator.get("/next").location == f"/annotate/{GOLDFISH}"
    assert vote_rows(app) == []
    with app.app_context():
        others = [w for w in hierarchy_from_db().class_index if w != TENCH]
    for wnid in others:
        vote(annotator, wnid, wnid)
    assert annotator.get("/next").location == "/done"
    assert annotator.get(f"/annotate/{TENCH}").status_code == 200  # still open by its link


def test_done_when_every_class_has_a_vote(app, annotator):
    assert annotator.get("/done").location == "/next"
    with app.app_context():
        every = list(hierarchy_from_db().class_index)
    for wnid in every:
        vote(annotator, wnid, wnid)
    assert annotator.get("/next").location == "/done"
    assert "Nothing is left for you" in annotator.get("/done").text


def test_comment_html_is_shown_escaped(app, annotator):
    vote(annotator, TENCH, TENCH, comment='<script>alert("x")</script><b>bold</b>')
    page = annotator.get("/").text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;b&gt;bold&lt;/b&gt;" in page
    assert "<b>bold" not in page and "<script>alert" not in page


def test_progress_bars(app):
    cast(app, "xx", {TENCH: TENCH, GOLDFISH: GOLDFISH})
    cast(app, "yy", {TENCH: TENCH})
    client = log_in(app.test_client(), add_user(app, "ann"))
    vote(client, GOLDFISH, GOLDFISH)
    page = client.get("/").text
    assert re.search(r'<progress value="1" max="10">', page)  # mine
    assert re.search(r'<progress value="2" max="10">', page)  # team: tench and goldfish
    assert "2 of 10 closed" in page  # two agreeing votes each
    with app.app_context():
        user_id = db.session.scalar(select(func.min(Vote.annotator_id)))
        assert work_queue.progress(user_id).as_dict() == {
            "annotator": {"voted": 2, "total": 10},
            "team": {"complete": 2, "total": 10, "min_votes": 1, "max_votes": 5, "target": 0.8},
        }


def test_unstorable_comment_is_refused(app, annotator):
    # PostgreSQL cannot store NUL in text; refused alike on every database.
    assert vote(annotator, TENCH, TENCH, comment="a\x00b").status_code == 400
    assert vote_rows(app) == []


@pytest.mark.postgres
def test_queue_votes_and_skips_on_postgres(tmp_path, small_hierarchy, postgres_url):
    app = seeded(make_app(tmp_path, postgres_url), small_hierarchy)
    try:
        client = log_in(app.test_client(), add_user(app, "ann"))
        cast(app, "xx", {TENCH: TENCH})
        assert client.get("/next").location == f"/annotate/{TENCH}"  # started first
        token = csrf_token(client, "/")
        client.post(f"/annotate/{TENCH}/skip", data={"csrf_token": token})
        assert vote(client, OSTRICH, OSTRICH).location == f"/annotate/{GOLDFISH}"
        assert vote(client, OSTRICH, OSTRICH, comment="again").location == f"/annotate/{GOLDFISH}"
        assert f'data-previous-url="/annotate/{OSTRICH}"' in client.get(f"/annotate/{TENCH}").text
        assert client.get("/api/progress").get_json()["annotator"]["voted"] == 1
        assert [v["comment"] for v in client.get("/api/votes").get_json()["votes"]] == ["again"]
        assert "again" in client.get("/").text
    finally:
        with app.app_context():
            db.engine.dispose()


def test_my_votes_in_pages(app, monkeypatch):
    from survey_app import annotate

    monkeypatch.setattr(annotate, "VOTES_PER_PAGE", 2)
    with app.app_context():
        wnids = list(hierarchy_from_db().class_index)[:3]
    user_id = add_user(app, "ann")
    client = log_in(app.test_client(), user_id)
    with app.app_context():
        user = db.session.get(User, user_id)
        for wnid in wnids:
            record_vote(user, wnid, wnid)
    loaded = []

    def on_load(vote, _context):
        loaded.append(vote.class_wnid)

    event.listen(Vote, "load", on_load)
    try:
        assert "page 1 of 2" in client.get("/").text
        assert loaded == wnids[:0:-1]  # the page's two votes, newest first; not every vote
        assert "page 2 of 2" in client.get("/?page=2").text
        assert loaded[2:] == wnids[:1]
    finally:
        event.remove(Vote, "load", on_load)
    assert "page 2 of 2" in client.get("/?page=9").text  # kept within the pages


# --- the classes page: each hypernym path, search by the words of the chain -------------
def _text(html: str) -> str:
    """What a person reads of an HTML fragment: the tags gone, blanks collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_classes_shows_each_path_of_a_two_path_class(annotator):
    """Dalmatian is a domestic animal and, apart from that, a canine: two paths,
    not one chain with "domestic animal" above "chordate"."""
    page = annotator.get("/classes?q=dalmatian").text
    paths = [_text(p) for p in re.findall(r'<div class="path">(.*?)</div>', page, re.DOTALL)]
    assert len(paths) == 2, paths
    first, second = paths
    assert first.startswith("path 1:") and second.startswith("path 2:")
    assert "domestic animal" in first and "chordate" not in first
    assert "canine" in second and "domestic animal" not in second
    for path in paths:
        assert re.search(r"dog \S+ › dalmatian \S+$", path), path


@pytest.fixture
def imagenet_annotator(tmp_path, imagenet_hierarchy):
    """An annotator on a survey of all 1,000 ImageNet classes."""
    app = seeded(make_app(tmp_path), imagenet_hierarchy)
    return log_in(app.test_client(), add_user(app, "ann"))


def _found(client, query: str) -> list[str]:
    """The wnids /classes lists for `query`, in order, over all its pages."""
    found, page = [], 1
    while True:
        html = client.get("/classes", query_string={"q": query, "page": page}).text
        found += re.findall(r"<code>(n\d{8})</code>", html)
        if f"page={page + 1}" not in html:
            return found
        page += 1


def test_classes_search_finds_every_class_under_a_word_of_its_chain(
    imagenet_annotator, imagenet_hierarchy
):
    """ "dog" finds the 118 classes under dog.n.01, not only the 16 named so: the
    names first, then the classes whose chain holds the word."""
    under_dog = {
        c.wnid for c in imagenet_hierarchy.classes if DOG in imagenet_hierarchy.chain_wnids(c.wnid)
    }
    assert len(under_dog) == 118
    found = _found(imagenet_annotator, "dog")
    assert under_dog <= set(found) and len(found) == len(set(found))

    def named_dog(wnid: str) -> bool:
        lemmas = imagenet_hierarchy.synsets[wnid].lemmas
        return any("dog" in lemma.replace("_", " ").lower() for lemma in lemmas)

    by_name = [named_dog(w) for w in found]
    assert by_name[0] and not by_name[-1]
    assert by_name == sorted(by_name, reverse=True)  # every name match before the rest
    # Words of the chain match whole: "cat" is not in "domesticated animal".
    assert "n02085620" not in _found(imagenet_annotator, "cat")  # Chihuahua
    assert "n02123045" in _found(imagenet_annotator, "cat")  # tabby


# --- what a search count means, in words -------------------------------------------------
def _row(page: str, wnid: str) -> str:
    row = page[page.index(f'value="{wnid}"') :]
    return row[: row.index("</li>")]


def _count_meaning(row: str) -> tuple[str, str]:
    """A candidate's figure as hovering shows it (the title) and as a screen reader
    reads it (the text hidden from sight)."""
    title = re.search(r'<span class="count" title="([^"]*)"', row).group(1)
    spoken = re.search(r'<span class="visually-hidden">([^<]*)</span>', row).group(1)
    return title, spoken


def test_each_count_says_what_it_counts(annotator):
    """Figures like "170K wordfreq" and "0 wordfreq" meant nothing to a lay annotator."""
    page = annotator.get(f"/annotate/{DALMATIAN}").text
    title, spoken = _count_meaning(_row(page, DOG))
    assert re.fullmatch(
        r"about [\d.]+ million uses of “dog” in this sense per 1 trillion words of English "
        r"text, as the wordfreq word-frequency list estimates: a hint of how familiar "
        r"the word is",
        title,
    )
    assert title.startswith(spoken)
    help_text = _text(page[page.index('<dialog id="key-help"') : page.index("</dialog>")])
    assert "wordfreq" in help_text and "how familiar" in help_text
    assert "uses of “dog” in this sense per 1 trillion words" in help_text
    rare = annotator.get(f"/annotate/{TENCH}").text
    title, _ = _count_meaning(_row(rare, "n01438208"))  # cypriniform fish
    assert title.startswith("0 uses of “cypriniform fish”")
    assert "too rare for the wordfreq word-frequency list" in title


@pytest.mark.parametrize(
    ("provider", "meaning"),
    [
        ("wikipedia", r"about [\d.]+ billion views of the English Wikipedia article “dog”"),
        ("google", r"about [\d.]+ billion Google search results for “dog”"),
        ("json", r"a count of about [\d.]+ billion for “dog” in this sense, from the counts file"),
    ],
)
def test_the_count_says_what_its_provider_counts(app, annotator, provider, meaning):
    from survey_app.caches import caches
    from survey_app.models import SearchCount

    with app.app_context():
        db.session.add(SearchCount(term="dog", provider=provider, count=3_000_000_000))
        db.session.commit()
        caches().clear()
    page = annotator.get(f"/annotate/{DALMATIAN}").text
    title, _ = _count_meaning(_row(page, DOG))
    assert re.match(meaning, title), title
    assert "wordfreq" in _count_meaning(_row(page, CANINE))[0]  # the other words keep theirs
    help_text = _text(page[page.index('<dialog id="key-help"') : page.index("</dialog>")])
    assert re.search(meaning, help_text) and "wordfreq" in help_text


def test_the_class_list_says_what_its_counts_count(annotator):
    listed = annotator.get("/classes?q=dalmatian").text
    note = _text(re.search(r'<p class="count-note[^>]*>(.*?)</p>', listed, re.DOTALL).group(1))
    assert "how familiar" in note
    assert re.search(r"beside \w+: about [\d.]+ \w+ uses of “[^”]+” in this sense per", note)


def test_the_comment_box_has_a_key(annotator):
    page = annotator.get(f"/annotate/{TENCH}").text
    assert re.search(r'<input[^>]*aria-keyshortcuts="c"[^>]*id="comment"', page) or re.search(
        r'<input[^>]*id="comment"[^>]*aria-keyshortcuts="c"', page
    )
    help_text = _text(page[page.index('<dialog id="key-help"') : page.index("</dialog>")])
    assert "C write a comment" in help_text


def test_a_class_view_is_checked_against_the_counts_only_after_a_new_read(
    app, annotator, monkeypatch
):
    """The kept view of a class was compared with the counts on every page; now only
    when the process has read the counts anew (every COUNTS_MAX_AGE_SECONDS), and a
    read with other counts still shows them."""
    from survey_app import annotate_data, counts
    from survey_app.models import SearchCount

    looks = []
    chain_counts = annotate_data.chain_counts
    monkeypatch.setattr(
        annotate_data, "chain_counts", lambda *args: looks.append(1) or chain_counts(*args)
    )
    annotator.get(f"/annotate/{DALMATIAN}")
    looks.clear()
    for _ in range(3):
        assert annotator.get(f"/annotate/{DALMATIAN}").status_code == 200
    assert looks == []
    with app.app_context():
        db.session.add(SearchCount(term="dog", provider="google", count=3_000_000_000))
        db.session.commit()
    monkeypatch.setattr(counts, "COUNTS_MAX_AGE_SECONDS", 1e-9)  # the next page reads anew
    page = annotator.get(f"/annotate/{DALMATIAN}").text
    assert looks == [1]
    assert "Google search results for “dog”" in _count_meaning(_row(page, DOG))[0]
