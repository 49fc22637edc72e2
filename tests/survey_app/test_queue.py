"""The adaptive queue: overlap first, a class closes when its votes agree, more votes
go where they don't, and the first vote is cast without the suggestion."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from clustering import confidence
from survey_app import class_states, create_app, work_queue
from survey_app.aggregation import current_aggregation
from survey_app.database import hierarchy_from_db
from survey_app.disagreements import closing_state
from survey_app.errors import SurveyError
from survey_app.extensions import db
from survey_app.models import ClassState, Skip, User, Vote
from survey_app.survey_settings import save_queue_settings, survey_settings
from survey_app.votes import record_vote

from .conftest import add_user, log_in, make_app, seeded

TENCH, GOLDFISH, OSTRICH, BRAMBLING = "n01440764", "n01443537", "n01518878", "n01530575"
BIRD = "n01503061"


def cast(app, username: str, votes: dict[str, str]) -> int:
    """Votes of an annotator (created if new) through the vote path; their user id."""
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == username))
    user_id = user.id if user else add_user(app, username)
    with app.app_context():
        user = db.session.get(User, user_id)
        for class_wnid, synset in votes.items():
            record_vote(user, class_wnid, synset)
    return user_id


def next_for(app, user_id: int) -> str | None:
    with app.app_context():
        return work_queue.next_class(user_id)


def state(app, wnid: str) -> ClassState | None:
    with app.app_context():
        row = db.session.get(ClassState, wnid)
        db.session.expunge_all()
        return row


def classes_of(hierarchy) -> list[str]:
    return [c.wnid for c in hierarchy.classes]


def classes(app) -> list[str]:
    with app.app_context():
        return [c.wnid for c in hierarchy_from_db().classes]


def test_a_started_class_comes_before_a_new_one(app):
    first = cast(app, "ann", {})
    assert next_for(app, first) == TENCH
    cast(app, "bob", {OSTRICH: OSTRICH})
    # The ostrich has a vote: the next annotator overlaps on it before opening the tench.
    assert next_for(app, first) == OSTRICH
    cast(app, "cid", {OSTRICH: BIRD})  # a disagreement: still open
    cast(app, "dan", {GOLDFISH: GOLDFISH})
    assert next_for(app, first) == GOLDFISH  # one vote before two


def test_agreeing_votes_close_a_class_and_disagreeing_ones_go_on_to_the_maximum(app):
    cast(app, "ann", {TENCH: TENCH})
    assert not state(app, TENCH).closed  # one vote, by an annotator not yet known
    cast(app, "bob", {TENCH: TENCH})
    closed = state(app, TENCH)
    assert closed.closed and closed.votes == 2 and closed.confidence >= 0.8
    assert next_for(app, add_user(app, "cid")) != TENCH
    # Votes spread over the chain stay open until the maximum, 5.
    with app.app_context():
        chain = hierarchy_from_db().chain_wnids(GOLDFISH)
    for number, synset in enumerate(chain[-4:] + chain[-2:-1], start=1):
        cast(app, f"voter{number}", {GOLDFISH: synset})
        assert state(app, GOLDFISH).closed == (number == 5), number


def test_an_annotator_never_gets_a_class_voted_skipped_or_closed(app):
    every = classes(app)
    ann = cast(app, "ann", {every[0]: every[0]})
    with app.app_context():
        db.session.add(Skip(annotator_id=ann, class_wnid=every[1]))
        db.session.commit()
    cast(app, "bob", {every[2]: every[2]})
    cast(app, "cid", {every[2]: every[2]})  # closed by agreement
    served = set()
    for _ in every:
        wnid = next_for(app, ann)
        if wnid is None:
            break
        served.add(wnid)
        cast(app, "ann", {wnid: wnid})
    assert served == set(every) - {every[0], every[1], every[2]}
    assert next_for(app, ann) is None


def test_the_batch_keeps_the_team_on_the_first_open_classes(tmp_path, small_hierarchy):
    app = seeded(make_app(tmp_path, QUEUE_BATCH=2), small_hierarchy)
    every = classes(app)
    cast(app, "bob", {every[5]: every[5]})  # started, but beyond the first two
    ann = add_user(app, "ann")
    assert next_for(app, ann) == every[0]  # a new class inside the batch first
    cast(app, "ann", {every[0]: every[0]})
    assert next_for(app, ann) == every[1]
    cast(app, "ann", {every[1]: every[1]})
    # Beyond the batch a started class comes before a new one.
    assert next_for(app, ann) == every[5]


def test_the_pilot_overlaps_from_the_first_votes(tmp_path, imagenet_hierarchy):
    # Three annotators voting 30 classes each, in turns, as a pilot would: with one
    # vote per class there were no agreement figures; now most classes get two or more.
    app = seeded(make_app(tmp_path), imagenet_hierarchy)
    users = [add_user(app, name) for name in ("ann", "bob", "cid")]
    with app.app_context():
        for _ in range(30):
            for user_id in users:
                wnid = work_queue.next_class(user_id)
                record_vote(db.session.get(User, user_id), wnid, wnid)
        voters: dict[str, int] = {}
        for vote in db.session.scalars(select(Vote)):
            voters[vote.class_wnid] = voters.get(vote.class_wnid, 0) + 1
    assert sum(n >= 2 for n in voters.values()) >= 25, voters


def test_enter_after_changing_an_old_vote_leads_back_to_new_work(app):
    ann = cast(app, "ann", {TENCH: TENCH, GOLDFISH: GOLDFISH, OSTRICH: OSTRICH})
    with app.app_context():
        fish = hierarchy_from_db().chain_wnids(TENCH)[-2]
    cast(app, "ann", {TENCH: fish})  # the tench reopened and changed
    with app.app_context():
        assert work_queue.class_after_vote(ann) == work_queue.next_class(ann) == BRAMBLING


def test_the_first_vote_is_cast_without_the_suggestion(tmp_path, small_hierarchy):
    app = seeded(make_app(tmp_path, HIDE_FIRST_SUGGESTION=True), small_hierarchy)
    first = cast(app, "ann", {})
    client = log_in(app.test_client(), first)
    page = client.get(f"/annotate/{TENCH}").text
    assert 'class="badge suggested"' not in page and " checked" not in page
    assert client.get(f"/api/classes/{TENCH}").get_json()["suggestion"] is None
    cast(app, "ann", {TENCH: TENCH})
    second = cast(app, "bob", {})
    with app.app_context():
        suggestion = class_states.suggestions()[TENCH]
    shown = log_in(app.test_client(), second).get(f"/api/classes/{TENCH}").get_json()
    assert shown["suggestion"] == suggestion  # someone has voted: the suggestion is shown
    cast(app, "bob", {TENCH: TENCH})
    with app.app_context():
        recorded = dict(db.session.execute(select(Vote.annotator_id, Vote.suggestion_wnid)).all())
    assert recorded == {first: None, second: suggestion}
    # With the setting off, the first vote records the suggestion it was shown.
    with app.app_context():
        values = {
            "MIN_VOTES": 2,
            "MAX_VOTES": 5,
            "TARGET_CONFIDENCE": 0.8,
            "QUEUE_BATCH": 20,
            "HIDE_FIRST_SUGGESTION": False,
        }
        save_queue_settings(values)
        assert not survey_settings().hide_first
    cast(app, "cid", {GOLDFISH: GOLDFISH})
    with app.app_context():
        vote = db.session.scalar(select(Vote).where(Vote.class_wnid == GOLDFISH))
        assert vote.suggestion_wnid == class_states.suggestions()[GOLDFISH]


def test_progress_counts_closed_classes(app):
    ann = cast(app, "ann", {TENCH: TENCH, GOLDFISH: GOLDFISH})
    cast(app, "bob", {TENCH: TENCH})
    with app.app_context():
        assert work_queue.progress(ann).as_dict() == {
            "annotator": {"voted": 2, "total": 10},
            "team": {"complete": 1, "total": 10, "min_votes": 1, "max_votes": 5, "target": 0.8},
        }


def test_one_vote_closes_a_class_once_its_annotator_is_known(app, monkeypatch):
    # Known after two votes compared with others', and the skills read at every vote, so
    # that ten classes show it.
    monkeypatch.setattr(confidence, "KNOWN_AFTER", 2)
    monkeypatch.setattr(class_states, "SKILLS_REFRESH_VOTES", 1)
    every = classes(app)
    with app.app_context():
        values = {"MIN_VOTES": 1, "MAX_VOTES": 5, "TARGET_CONFIDENCE": 0.6}
        save_queue_settings(values | {"QUEUE_BATCH": 20, "HIDE_FIRST_SUGGESTION": True})
        suggested, priors = class_states.suggestions(), class_states.priors()
    # The classes where the model is surest: one vote for its suggestion is confident.
    first, second = sorted(every[2:], key=lambda w: -priors[w][suggested[w]])[:2]
    cast(app, "cid", {first: suggested[first]})  # cid: nothing of theirs compared yet
    lone = state(app, first)
    assert lone.votes == 1 and lone.confidence >= 0.6 and not lone.closed
    ann = cast(app, "ann", {every[0]: every[0], every[1]: every[1]})
    cast(app, "bob", {every[0]: every[0], every[1]: every[1]})  # ann and bob agree twice
    cast(app, "ann", {second: suggested[second]})
    alone = state(app, second)
    assert alone.votes == 1 and alone.closed
    assert next_for(app, add_user(app, "dan")) == first  # cid's class still takes votes
    assert next_for(app, ann) != second
    # The review reads the same rule: cid's lone vote leaves the class open there too.
    with app.app_context():
        result, rule = current_aggregation(), survey_settings().closing
        assert closing_state(result.outcomes[first], rule) == "open"
        assert closing_state(result.outcomes[second], rule) == "closed early"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"MIN_VOTES": 6}, "must not be above max_votes"),
        ({"TARGET_CONFIDENCE": 1.0}, "strictly between 0.5 and 1"),
        ({"MAX_VOTES": -1}, "at least 1"),
        ({"QUEUE_BATCH": 0}, "batch must be a whole number"),
    ],
)
def test_settings_out_of_range_are_refused(tmp_path, settings, message):
    with pytest.raises(SurveyError, match=message):
        create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://", **settings})


def test_a_team_asking_at_once_never_gets_a_closed_class(tmp_path, small_hierarchy, database_url):
    """Eight annotators at once, each asking and voting until the queue is empty: every
    class closes, and none gets more than its maximum plus the other annotators who
    could have been looking at it when it closed (the README's bound). (That a closed
    class is never served is the queue query's own condition, tested above; here a
    class may close between the query and the vote, which is what the bound allows.)"""
    url = None if database_url == "sqlite" else database_url
    app = seeded(make_app(tmp_path, url, MIN_VOTES=3, MAX_VOTES=3), small_hierarchy)
    users = [add_user(app, f"ann{number}") for number in range(8)]

    def work(user_id: int) -> None:
        with app.app_context():
            user = db.session.get(User, user_id)
            while (wnid := work_queue.next_class(user_id)) is not None:
                record_vote(user, wnid, wnid)

    with ThreadPoolExecutor(len(users)) as pool:
        list(pool.map(work, users))
    with app.app_context():
        voters: dict[str, int] = {}
        for vote in db.session.scalars(select(Vote)):
            voters[vote.class_wnid] = voters.get(vote.class_wnid, 0) + 1
        closed = {row.class_wnid for row in db.session.scalars(select(ClassState)) if row.closed}
        db.session.remove()  # its connection back to the pool, which dispose then closes
        db.engine.dispose()
    assert closed == set(classes_of(small_hierarchy))
    assert all(3 <= n <= 3 + len(users) - 1 for n in voters.values()), voters


def test_a_class_still_collecting_votes_is_the_queues_and_an_unsure_one_the_admins(app):
    from survey_app import aggregation, disagreements

    with app.app_context():
        chain = hierarchy_from_db().chain_wnids(GOLDFISH)
        values = {
            "MIN_VOTES": 2,
            "MAX_VOTES": 5,
            "TARGET_CONFIDENCE": 0.99,
            "QUEUE_BATCH": 20,
            "HIDE_FIRST_SUGGESTION": False,
        }
        save_queue_settings(values)
    # Two votes that disagree: open, so not yet in the admin's Disagreements.
    cast(app, "v1", {GOLDFISH: chain[-1]})
    cast(app, "v2", {GOLDFISH: chain[-2]})
    with app.test_request_context():
        result = aggregation.current_aggregation()
        state = disagreements.closing_state(result.outcomes[GOLDFISH], survey_settings().closing)
        assert state == "open"
        assert GOLDFISH not in {e.wnid for e in disagreements.class_entries(result)}
    # Three more, spread: closed at the most votes a class gets, below the target.
    for number, synset in enumerate((chain[-3], chain[-4], chain[-5]), start=3):
        cast(app, f"v{number}", {GOLDFISH: synset})
    with app.test_request_context():
        result = aggregation.current_aggregation()
        entry = next(e for e in disagreements.class_entries(result) if e.wnid == GOLDFISH)
        assert entry.reasons == ("unsure", "split")
    admin = log_in(app.test_client(), add_user(app, "boss", role="admin"))
    page = " ".join(admin.get(f"/admin/review/classes/{GOLDFISH}").text.split())
    assert "unsure: 5 votes (it closes with 2 to 5)" in page
    assert GOLDFISH in admin.get("/admin/review/classes?status=unsure").text


def test_the_summary_shows_the_suggestion_share_when_shown_and_when_hidden(
    tmp_path, small_hierarchy
):
    app = seeded(make_app(tmp_path, HIDE_FIRST_SUGGESTION=True), small_hierarchy)
    with app.app_context():
        suggested = class_states.suggestions()
    cast(app, "ann", {TENCH: suggested[TENCH], GOLDFISH: suggested[GOLDFISH]})  # hidden
    cast(app, "bob", {TENCH: suggested[TENCH], GOLDFISH: GOLDFISH})  # shown both times
    admin = log_in(app.test_client(), add_user(app, "boss", role="admin"))
    summary = " ".join(admin.get("/admin/review/").text.split())
    row = summary[summary.index(">bob<") :]
    assert "1 of 2 (50 %)</td> <td>—</td>" in row[:400]
    row = summary[summary.index(">ann<") :]
    assert "<td>—</td> <td>2 of 2 (100 %)</td>" in row[:400]


def test_restored_votes_and_older_databases_get_their_class_states(app, tmp_path, small_hierarchy):
    from survey_app import cli
    from survey_app.backup import restore_records, write_dump

    cast(app, "ann", {TENCH: TENCH})
    cast(app, "bob", {TENCH: TENCH})
    dump = tmp_path / "dump.jsonl"
    with app.app_context():
        with dump.open("w") as stream:
            write_dump(stream)
        # A database from before the queue kept states: setup fills them in.
        db.session.query(ClassState).delete()
        db.session.commit()
        cli._queue_states()
        assert db.session.get(ClassState, TENCH).closed
    (tmp_path / "again").mkdir()
    restored = seeded(make_app(tmp_path / "again"), small_hierarchy)
    with restored.app_context():
        restore_records(dump.read_text().splitlines())
        assert db.session.get(ClassState, TENCH).closed
    assert next_for(restored, add_user(restored, "cid")) == GOLDFISH


def test_the_skills_are_recomputed_less_often_as_the_vote_log_grows(app, monkeypatch):
    """Recomputing the skills reads every vote: once per 50 votes, a vote in 25 (per
    worker) paid for a read of the whole log, 0.1 s at 13,000 votes. After the first
    votes they are recomputed once the log has grown by a tenth, so the cost per vote
    stays bounded, and they never lag the log by more than that tenth."""
    computed_at = []

    def counted(votes, suggestions):
        computed_at.append(current)
        return class_states.TeamSkills({}, {}, {})

    monkeypatch.setattr(class_states, "team_skills", counted)
    monkeypatch.setattr(class_states, "database_votes", list)
    with app.app_context():
        for current in range(1, 20_001):
            class_states.skills(last_vote=current)
    assert len(computed_at) <= 60  # once per 50 votes: 401
    assert computed_at[:3] == [1, 50, 100]
    lags = [b - a for a, b in zip(computed_at, computed_at[1:] + [20_001], strict=True)]
    assert all(lag <= max(50, a // 10 + 1) for a, lag in zip(computed_at, lags, strict=True))


def test_the_annotate_page_follows_a_batch_an_admin_changed(app):
    """The page reads the queue's batch with its other questions, so it first asks with
    the batch the process saw last; after an admin's change it asks again."""
    from survey_app.annotate_reads import page_reads
    from survey_app.survey_settings import queue_settings

    ann, other = add_user(app, "ann"), add_user(app, "other")
    with app.app_context():
        classes = [c.wnid for c in hierarchy_from_db().classes]
        record_vote(db.session.get(User, other), classes[5], classes[5])
        # All ten classes in the batch of 20: the started one comes first.
        assert page_reads(ann, classes[9]).following == classes[5]
    with app.app_context():
        save_queue_settings({**queue_settings(), "QUEUE_BATCH": 1})
    with app.app_context():
        # A batch of one: the first open class, new as it is, before the started one.
        assert page_reads(ann, classes[9]).following == classes[0]
