"""What a team hits in its first hour (issue "The survey for a real team"): error
pages, invitations, the admin page's counts, pictures that are off, the README."""

import re
from pathlib import Path

from sqlalchemy.exc import OperationalError

from survey_app import startup
from survey_app.votes import SUBMISSION_ID_RE

from .conftest import add_user, csrf_token, invite_on_admin_page

ROOT = Path(__file__).resolve().parents[2]


def test_not_found_page_names_the_error(annotator):
    page = annotator.get("/annotate/n09999999")
    assert page.status_code == 404
    assert "<property" not in page.text and "<small>Not Found</small>" in page.text


def test_service_unavailable_page_names_the_error(app, monkeypatch):
    from survey_app import browse

    def unreachable(*args, **kwargs):
        raise OperationalError("SELECT 1", {}, Exception("down"))

    monkeypatch.setattr(browse, "hierarchy_from_db", unreachable)
    page = app.test_client().get("/classes")
    assert page.status_code == 503
    assert "<property" not in page.text and "Service Unavailable" in page.text


def test_invite_prints_the_address_the_app_was_last_served_at(app, runner, tmp_path, monkeypatch):
    monkeypatch.setattr(app, "instance_path", str(tmp_path))  # not the project's instance/
    startup.remember_address(app, "http://127.0.0.1:8123")
    link = runner.invoke(args=["invite"]).output.strip()
    assert link.startswith("http://127.0.0.1:8123/invite/")
    explicit = runner.invoke(args=["invite", "--base-url", "https://cil.example"]).output
    assert explicit.startswith("https://cil.example/invite/")


def test_invitation_link_on_the_admin_page_is_a_link_with_a_copy_button(app, admin):
    page = invite_on_admin_page(admin)
    link = re.search(r'<a href="(http://localhost/invite/[\w.-]+)"', page)
    assert link, page
    assert f'data-copy="{link.group(1)}"' in page
    assert 'src="/static/copy.js"' in page


def test_a_refused_new_account_redirects_so_a_reload_posts_nothing(app, admin):
    token = csrf_token(admin, "/admin/")
    form = {
        "csrf_token": token,
        "user-username": "dave",
        "user-password": "short",
        "user-confirm": "short",
        "user-role": "annotator",
    }
    response = admin.post("/admin/users", data=form)
    assert response.status_code == 303 and response.location.endswith("/admin/#new-account")
    assert "at least 8 characters" in admin.get("/admin/").text


def test_admins_are_not_counted_as_annotators(app, admin):
    page = admin.get("/admin/").text
    assert "0 annotators" in page and "1 admin" in page
    assert "Annotators (1)" not in page
    add_user(app, "ann")
    assert "1 annotator," in admin.get("/admin/").text


def test_without_an_image_source_annotators_are_told_pictures_are_off(app, annotator):
    page = annotator.get("/annotate/n01440764").text
    assert "Pictures are off" in page
    assert "no picture" not in page and 'class="placeholder"' not in page


def test_the_nav_leads_admins_to_the_review(app, admin, annotator):
    assert 'href="/admin/review/"' in admin.get("/admin/").text
    assert 'href="/admin/review/"' not in annotator.get("/").text


def test_readme_states_the_submission_id_rule():
    low, high = re.search(r"\{(\d+),(\d+)\}", SUBMISSION_ID_RE).groups()
    readme = (ROOT / "README.md").read_text()
    assert f"`submission_id` is {low} to {high} letters, digits, `_` or `-`" in readme


def test_system_deps_waits_for_the_dpkg_lock():
    script = (ROOT / "scripts" / "system-deps.sh").read_text()
    calls = [
        line
        for line in script.splitlines()
        if re.search(r"\bapt-get\b.*\b(update|install)\b", line)
        and not line.lstrip().startswith("#")
    ]
    assert calls and all("DPkg::Lock::Timeout" in line for line in calls), calls


# --- the annotate page: suggestion modes, guidelines, prefetch -------------------------
TENCH, GOLDFISH = "n01440764", "n01443537"


QUEUE_DEFAULTS = {"min_votes": 1, "max_votes": 5, "target": "0.8", "batch": 20, "hide_first": None}


def save_settings(admin, guidelines: str = "", mode: str = "preselect", **queue):
    token = csrf_token(admin, "/admin/")
    fields = {**QUEUE_DEFAULTS, **queue}
    return admin.post(
        "/admin/settings",
        data={
            "csrf_token": token,
            "survey-guidelines": guidelines,
            "survey-suggestion_mode": mode,
            **{f"survey-{name}": value for name, value in fields.items() if value is not None},
        },
    )


def test_the_queue_settings_are_saved_checked_and_reconsider_the_classes(app, admin):
    from survey_app import class_states
    from survey_app.extensions import db
    from survey_app.models import User
    from survey_app.survey_settings import survey_settings
    from survey_app.votes import record_vote

    for name in ("ann", "bob"):
        user_id = add_user(app, name)
        with app.app_context():
            record_vote(db.session.get(User, user_id), TENCH, TENCH)
    with app.app_context():
        assert class_states.state_of(TENCH).closed  # two agreeing votes close it at 0.8
    response = save_settings(admin, min_votes=3, max_votes=3, hide_first=None)
    assert response.status_code == 303
    assert "1 voted classes reconsidered" in admin.get("/admin/").text
    with app.app_context():
        settings = survey_settings()
        assert (settings.closing.min_votes, settings.closing.max_votes) == (3, 3)
        assert not settings.hide_first
        assert not class_states.state_of(TENCH).closed  # now it needs a third vote
    for wrong, message in (
        ({"min_votes": 4, "max_votes": 3}, "must not be above max_votes"),
        ({"target": "1"}, "strictly between 0.5 and 1"),
        ({"batch": 0}, "Number must be at least 1"),
    ):
        refused = save_settings(admin, **wrong)
        assert refused.status_code == 400 and message in refused.text, wrong
    with app.app_context():
        assert survey_settings().closing.max_votes == 3  # nothing stored on refusal


def test_suggestion_modes(app, admin, annotator):
    page = annotator.get(f"/annotate/{TENCH}").text
    assert page.count(" checked") == 1 and 'class="badge suggested"' in page
    assert save_settings(admin, mode="badge").status_code == 303
    page = annotator.get(f"/annotate/{TENCH}").text
    assert " checked" not in page and 'class="badge suggested"' in page
    save_settings(admin, mode="hidden")
    page = annotator.get(f"/annotate/{TENCH}").text
    assert " checked" not in page and 'class="badge suggested"' not in page
    assert save_settings(admin, mode="loud").status_code == 400


def test_guidelines_on_the_first_class_and_behind_a_link(app, admin, annotator):
    assert "Guidelines for this survey" not in annotator.get(f"/annotate/{TENCH}").text
    save_settings(admin, guidelines="Name the thing, not the kind.\n<b>No</b> brands.")
    first = annotator.get(f"/annotate/{TENCH}").text
    assert "Guidelines for this survey" in first and "Name the thing" in first
    assert "&lt;b&gt;No&lt;/b&gt;" in first  # plain text, escaped
    token = csrf_token(annotator, f"/annotate/{TENCH}")
    annotator.post(f"/annotate/{TENCH}", data={"csrf_token": token, "synset": TENCH})
    later = annotator.get(f"/annotate/{GOLDFISH}").text
    assert "Guidelines for this survey" not in later and 'href="/guidelines"' in later
    assert "Name the thing" in annotator.get("/guidelines").text


def test_the_next_class_pictures_are_prefetched(tmp_path, small_hierarchy):
    from .conftest import log_in, make_app, make_image_folder, seeded

    wnids = [c.wnid for c in small_hierarchy.classes]
    pictures = make_image_folder(tmp_path / "imagenet", wnids, per_class=2, size=(40, 30))
    app = seeded(make_app(tmp_path, IMAGE_SOURCE=str(pictures)), small_hierarchy)
    client = log_in(app.test_client(), add_user(app, "ann"))
    page = client.get(f"/annotate/{TENCH}").text
    assert f'<link rel="prefetch" as="image" href="/images/large/{GOLDFISH}/0.jpg">' in page
    assert f'rel="prefetch" as="image" href="/images/large/{TENCH}/' not in page


# --- pace -----------------------------------------------------------------------------
def test_pace_is_the_median_gap_without_breaks(app, admin):
    from datetime import datetime, timedelta

    from survey_app.extensions import db
    from survey_app.models import Vote
    from survey_app.pace import paces

    ann = add_user(app, "ann")
    start = datetime(2026, 11, 30, 9)
    offsets = [0, 10, 30, 3600, 3620]  # a break of almost an hour after the third
    classes = ["n01440764", "n01443537", "n01518878", "n01530575", "n02012849"]
    with app.app_context():
        db.session.add_all(
            Vote(
                annotator_id=ann,
                class_wnid=w,
                synset_wnid=w,
                created_at=start + timedelta(seconds=s),
            )
            for w, s in zip(classes, offsets, strict=True)
        )
        db.session.commit()
        pace = paces(10, today=start.date())[ann]
    assert pace.median_seconds == 20 and pace.classes == 5
    assert pace.seconds_left == 5 * 20  # 5 of the 10 classes left
    assert pace.per_day[-1] == 5 and sum(pace.per_day) == 5
    page = admin.get("/admin/").text
    assert "20 s a class, 2 min left" in page and 'class="sparkline"' in page
    # The admin page keeps the figures until a vote is added, then shows the new ones.
    assert "20 s a class, 2 min left" in admin.get("/admin/").text
    _cast(app, ann, "n01440764", start + timedelta(seconds=3621))
    assert "15 s a class, 75 s left" in admin.get("/admin/").text  # median of 10, 20, 20, 1


# The statement that reads an annotator's votes for their pace (survey_app.pace.paces).
PACE_READ = "ORDER BY votes.annotator_id, votes.id"


def _cast(app, annotator: int, class_wnid: str, when) -> None:
    from survey_app.extensions import db
    from survey_app.models import Vote

    with app.app_context():
        db.session.add(
            Vote(
                annotator_id=annotator,
                class_wnid=class_wnid,
                synset_wnid=class_wnid,
                created_at=when,
            )
        )
        db.session.commit()


def test_home_reads_the_pace_again_only_after_the_annotators_own_vote(app):
    """The home keeps an annotator's pace while they add no vote (it read all of
    their votes on every visit: 21,843 at ImageNet-21k's size); another's vote does
    not make it read them again, their own does, and the page shows the new pace."""
    from datetime import UTC, datetime, timedelta

    from .conftest import log_in
    from .test_round_trips import counted

    ann, bob = add_user(app, "ann"), add_user(app, "bob")
    start = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=5)
    for i, wnid in enumerate(["n01440764", "n01443537", "n01518878"]):
        _cast(app, ann, wnid, start + timedelta(seconds=10 * i))
    home = log_in(app.test_client(), ann)
    with counted(app) as calls:
        assert "Your pace: 10 s a class" in home.get("/").text
        assert "Your pace: 10 s a class" in home.get("/").text
        _cast(app, bob, "n01440764", start)
        home.get("/")
    assert sum(PACE_READ in sql for sql in calls.statements) == 1
    _cast(app, ann, "n01530575", start + timedelta(seconds=50))  # gaps 10, 10, 30
    with counted(app) as calls:
        assert "Your pace: 10 s a class" in home.get("/").text
        _cast(app, ann, "n02012849", start + timedelta(seconds=80))  # 10, 10, 30, 30
        assert "Your pace: 20 s a class" in home.get("/").text
    assert sum(PACE_READ in sql for sql in calls.statements) == 2


def test_admin_page_counts_classes_from_the_kept_paces(app, admin):
    """The admin page's classes voted and last vote come with the paces it keeps
    until a vote is added, rather than from grouping every vote on each visit."""
    from datetime import datetime

    from .test_round_trips import counted

    ann = add_user(app, "ann")
    _cast(app, ann, "n01440764", datetime(2026, 11, 30, 9, 0))
    _cast(app, ann, "n01440764", datetime(2026, 11, 30, 9, 1))  # the same class again
    _cast(app, ann, "n01443537", datetime(2026, 11, 30, 9, 2))
    with counted(app) as calls:
        first, second = admin.get("/admin/").text, admin.get("/admin/").text
    assert first == second
    row = re.search(r"<td>ann</td>.*?</tr>", first, re.DOTALL).group(0)
    assert re.search(r"<td>2 <small", row) and "2026-11-30 09:02" in row
    assert sum("FROM votes GROUP BY" in sql for sql in calls.statements) == 0
    assert sum(PACE_READ in sql for sql in calls.statements) == 1
