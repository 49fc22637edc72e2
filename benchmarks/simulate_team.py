"""A simulated team works through the survey's own queue: votes used, accuracy and the
admin's queue, for fixed 3 votes against the adaptive queue at several targets.

Unlike `simulate_annotators.py`, which hands the aggregation a fixed number of votes
per class, this runs the survey's real code on a real database, inside the app's
context: a fresh SQLite file (a copy of one seeded once with the classes and the
offline word counts, as the tests seed theirs) per run, `work_queue.next_class`
deciding what each annotator sees, `class_states.shown_suggestion` whether the
model's suggestion is shown, `votes.record_vote` recording the vote and rewriting the
class's state, and `aggregation.current_aggregation` the export at the end.

The model's prior: the shipped entry-level model was fitted on the published labels
that score the runs, so it agrees with that truth more often than with a new team's
labels, and flatters every setting that leans on it. By default (`--prior
cross-fitted`) each class's prior and suggestion come instead from a model fitted
without its label (`strategies.cross_fitted_priors`: grouped folds, `--prior-folds`),
handed to the survey in place of `class_states.priors`, which the queue, the shown
suggestion and the export all read; `--prior shipped` keeps the shipped model.

The team: `--annotators` simulated annotators with the noise rates of a mix of
`simulate_annotators.MIXES` (the same error model: mostly one or two steps along the
chain) and a pace each (a fast one asks for work up to four times as often as a slow
one). Each step one of them, drawn by pace, asks for their next class; if the
suggestion was shown to them, they take it without judging with the chance
`--accept`, and otherwise vote as that error model says. A run ends when the queue
is empty for every annotator (or at `--budget` votes). The truth: the published
human labels on the 978 classes whose label lies on their chain; on the 22 others
the annotators' truth is the class's own synset, and those classes are not scored.

Per run (one queue setting, mix and seed), over the 978 scored classes:

- votes: votes recorded; "saved": the share fewer than fixed 3's with the same
  mix, seed and suggestion setting;
- exported: the share whose label in the export (`resolution.assignment`, conflicts
  resolved) is the truth; aggregated: the same before conflict resolution
  (`outcomes[class].label`);
- admin: the classes closed at the maximum below the target (`class_states`:
  votes >= max and confidence < target), which go to the admin's queue; for fixed 3
  against `FIXED_TARGET`, the app's default;
- reliability: per annotator, their planted accuracy (1 - noise), the share of their
  votes that named the truth (taken suggestions included), and the export's estimates
  of their reliability r_a and anchoring q_a (`confidence.team_skills`) against the
  planted chance of taking a shown suggestion;
- closed at 1 vote: scored classes the queue closed at their first vote (with one vote
  at least allowed), which no second person saw, and the share of them exported as
  the truth;
- ms/vote: the survey's time per vote (next class, shown suggestion, record vote);
  run time: the whole run, seeding the app's caches and the export included.

    PYTHONPATH=. .venv/bin/python benchmarks/simulate_team.py
    PYTHONPATH=. .venv/bin/python benchmarks/simulate_team.py --seeds 0 --targets 0.9 \
        --hide-first both --mixes low high --accept 0

The seeded database is kept in `$TMPDIR/cil-simulate-team-<hierarchy version>.sqlite3`
(seeding takes a few seconds; delete the file after a migration), the hierarchy in
`simulate_annotators.DEFAULT_HIERARCHY`. Figures: `benchmarks/results/simulate-team-2026-12-06.md`
(the shipped prior), `benchmarks/results/simulate-team-2026-12-07.md` (cross-fitted).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from statistics import fmean as mean
from unittest import mock

from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import func, select
from tqdm import tqdm

from benchmarks.simulate_annotators import (
    MIXES,
    Annotator,
    add_truth_options,
    agreement,
    code_version,
    mix_annotators,
    wrong_label,
)
from clustering.entry_level import ModelError
from clustering.hierarchy import Hierarchy
from clustering.human_labels import read_human_labels
from clustering.strategies import cross_fitted_priors, prior_suggestions
from survey_app import class_states, create_app, work_queue
from survey_app.aggregation import current_aggregation
from survey_app.auth import load_user
from survey_app.counts import fill_search_counts, recent_word_counts
from survey_app.database import hierarchy_from_db
from survey_app.extensions import db
from survey_app.models import ClassState, User, Vote
from survey_app.seeding import seed_hierarchy
from survey_app.survey_settings import queue_settings, save_queue_settings, survey_settings
from survey_app.votes import record_vote

# --- settings ---------------------------------------------------------------------------
DEFAULT_ANNOTATORS = 6
DEFAULT_ACCEPT = 0.3  # the chance of taking a shown suggestion without judging it
DEFAULT_MIXES = ("default",)
DEFAULT_SEEDS = (0, 1)
DEFAULT_TARGETS = (0.8, 0.85, 0.9, 0.95)
FIXED_VOTES = 3  # the old queue: every class gets this many
FIXED_TARGET = 0.85  # fixed 3 closes by count; its admin column counts below this
ADAPTIVE_VOTES = (2, 5)  # the adaptive queue's minimum and maximum, by default
PACES = (0.5, 2.0)  # each annotator's relative pace, drawn evenly from this range
COUNT_PROVIDER = "wordfreq"  # offline, as the tests seed
DEFAULT_TEMPLATE_FOLDER = Path(tempfile.gettempdir())
PRIORS = ("cross-fitted", "shipped")  # see the module's docstring
# Grouped folds of the cross-fitted prior: each model sees half the labels, a harder
# test than the shipped model's five folds (held-out agreement 66.6 % against 66.1 %).
DEFAULT_PRIOR_FOLDS = 2


@dataclass(frozen=True)
class QueueSetting:
    """One queue setting compared: the closing rule and whether the first vote on a
    class is cast with the suggestion hidden."""

    min_votes: int
    max_votes: int
    target: float
    hide_first: bool

    @property
    def fixed(self) -> bool:
        return self.min_votes == self.max_votes

    @property
    def name(self) -> str:
        if self.fixed:
            return f"fixed {self.max_votes}"
        return f"adaptive {self.min_votes}-{self.max_votes} @ {self.target:g}"


def compared_settings(
    targets: Iterable[float],
    hide_first: Iterable[bool],
    adaptive_votes: Iterable[tuple[int, int]] = (ADAPTIVE_VOTES,),
) -> list[QueueSetting]:
    """Fixed 3, then the adaptive queue at each (minimum, maximum) and target, each with
    every hide-first choice."""
    settings = []
    for hide in hide_first:
        settings.append(QueueSetting(FIXED_VOTES, FIXED_VOTES, FIXED_TARGET, hide))
        settings += [
            QueueSetting(low, high, target, hide)
            for low, high in adaptive_votes
            for target in targets
        ]
    return settings


@dataclass(frozen=True)
class Member:
    """A simulated annotator of the team, with their account in the run's database."""

    annotator: Annotator
    accept: float  # the chance of taking a shown suggestion without judging it
    pace: float  # relative: how often they ask for work
    user_id: int = 0  # none until `add_team` gives them an account

    @property
    def name(self) -> str:
        return self.annotator.name


def make_team(mix: tuple[float, float], count: int, accept: float, seed: int) -> list[Member]:
    """The mix's annotators, each with a pace drawn from PACES; the same seed gives the
    same team in every setting, so settings differ by the queue alone."""
    rng = random.Random(f"team-{seed}")
    return [Member(a, accept, rng.uniform(*PACES)) for a in mix_annotators(mix, count)]


# --- the survey database ----------------------------------------------------------------
def survey_app_on(database: Path, **settings) -> Flask:
    """The survey app on the SQLite file `database`, with `settings` over its defaults.
    TESTING keeps the app from announcing a setup link; no vote rate limit, as a
    simulated annotator votes far faster than a person."""
    config = {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}",
        "HIERARCHY_FILE": str(database.with_suffix(".hierarchy.json")),
        "THUMBNAIL_DIR": str(database.parent / "thumbnails"),
        "VOTE_RATE_LIMIT": 0,
    }
    return create_app(config | settings)


def seeded_template(hierarchy: Hierarchy, folder: Path) -> Path:
    """A database migrated to head, seeded from `hierarchy` and filled with the offline
    counts, built once per hierarchy version and copied for every run."""
    path = folder / f"cil-simulate-team-{hierarchy.version}.sqlite3"
    if path.exists():
        return path
    building = path.with_suffix(".building")
    building.unlink(missing_ok=True)
    app = survey_app_on(building)
    # Alembic's env.py configures logging from alembic.ini: keep the caller's handlers.
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    with app.app_context():
        upgrade()
        root.handlers[:], root.level = handlers, level
        seed_hierarchy(hierarchy)
        fill_search_counts(COUNT_PROVIDER, progress=False)
        db.session.remove()
        db.engine.dispose()  # the last connection closed folds the WAL into the file
    building.rename(path)  # whole or not at all: an interrupted build is not reused
    return path


def add_team(team: Sequence[Member]) -> list[Member]:
    """Accounts for the team (no password: they never log in); the members with ids."""
    users = [User(username=member.name, role="annotator") for member in team]
    db.session.add_all(users)
    db.session.commit()
    return [
        Member(member.annotator, member.accept, member.pace, user.id)
        for member, user in zip(team, users, strict=True)
    ]


def apply_setting(setting: QueueSetting) -> None:
    """The setting saved as an admin saves it (checked, stored in `meta`)."""
    values = queue_settings()
    values.update(
        MIN_VOTES=setting.min_votes,
        MAX_VOTES=setting.max_votes,
        TARGET_CONFIDENCE=setting.target,
        HIDE_FIRST_SUGGESTION=setting.hide_first,
    )
    save_queue_settings(values)


def held_out_priors(
    template: Path, folder: Path, truth: Mapping[str, str], folds: int
) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, float]]]:
    """(cross-fitted, shipped): every class's prior as `class_states.priors` computes it
    (the seeded hierarchy and counts of a copy of `template`), each from a model that
    never saw its truth, and the shipped model's, to compare."""
    database = folder / "priors.sqlite3"
    shutil.copyfile(template, database)
    app = survey_app_on(database)
    try:
        with app.app_context():
            priors = cross_fitted_priors(hierarchy_from_db(), recent_word_counts(), truth, folds)
            shipped = class_states.priors()
            db.session.remove()
            db.engine.dispose()
    finally:
        for path in folder.glob("priors.sqlite3*"):
            path.unlink()
    return priors, shipped


def prior_fit(priors: Mapping[str, Mapping[str, float]], truth: Mapping[str, str]) -> str:
    """How well a prior knows the truth: its suggestions equal to it, and the mean
    probability it gives the truth, over the scored classes."""
    suggested = prior_suggestions(priors)
    hits = agreement(suggested, truth)
    mean_p = mean(priors[c].get(label, 0.0) for c, label in truth.items())
    return f"suggestion = truth on {100 * hits / len(truth):.1f} %, mean P(truth) {mean_p:.3f}"


# --- the team at work -------------------------------------------------------------------
def choose_label(
    member: Member, chain: Sequence[str], truth: str, shown: str | None, rng: random.Random
) -> str:
    """The member's vote: the shown suggestion taken unjudged (chance `accept`), else the
    truth or, with the member's noise rate, an error along the chain."""
    if shown is not None and rng.random() < member.accept:
        return shown
    if rng.random() < member.annotator.noise and len(chain) > 1:
        return wrong_label(chain, truth, rng)
    return truth


@dataclass
class Work:
    """What one run did, beside the database it leaves."""

    votes: int = 0
    survey_seconds: float = 0.0  # in the survey's functions: next class, suggestion, vote
    served_closed: list[str] = field(default_factory=list)  # classes served after closing
    served_again: list[str] = field(default_factory=list)  # served to one who voted on them


def work_through_queue(
    hierarchy: Hierarchy,
    truth: Mapping[str, str],
    team: Sequence[Member],
    rng: random.Random,
    budget: int | None = None,
    on_vote: Callable[[], None] = lambda: None,
) -> Work:
    """Members drawn by pace ask the queue for work and vote, until the queue is empty
    for all of them or `budget` votes were cast. Inside the app's context."""
    work = Work()
    voted: dict[int, set[str]] = {member.user_id: set() for member in team}
    # As a request sees its annotator: the ORM's User would expire at every commit.
    users = {m.user_id: load_user(db.session.get(User, m.user_id).get_id()) for m in team}
    busy = list(team)
    while busy and (budget is None or work.votes < budget):
        member = rng.choices(busy, weights=[m.pace for m in busy])[0]
        started = time.perf_counter()
        class_wnid = work_queue.next_class(member.user_id)
        if class_wnid is None:
            work.survey_seconds += time.perf_counter() - started
            busy.remove(member)  # closed classes stay closed: nothing more for them
            continue
        shown = class_states.shown_suggestion(class_wnid, member.user_id, survey_settings())
        work.survey_seconds += time.perf_counter() - started
        check_served(class_wnid, voted[member.user_id], work)
        chain = hierarchy.chain_wnids(class_wnid)
        label = choose_label(member, chain, truth.get(class_wnid, class_wnid), shown, rng)
        started = time.perf_counter()
        record_vote(users[member.user_id], class_wnid, label)
        work.survey_seconds += time.perf_counter() - started
        voted[member.user_id].add(class_wnid)
        work.votes += 1
        on_vote()
    return work


def check_served(class_wnid: str, voted_by_member: set[str], work: Work) -> None:
    """Note what the queue must never do: serve a closed class, or one the member
    voted on (the simulation is one process, so no request is in flight beside it)."""
    if db.session.scalar(select(ClassState.closed).where(ClassState.class_wnid == class_wnid)):
        work.served_closed.append(class_wnid)
    if class_wnid in voted_by_member:
        work.served_again.append(class_wnid)


# --- scoring ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Estimate:
    """One member's planted skills against what the export estimated of them."""

    name: str
    planted: float  # 1 - noise: the chance that a vote of their own names the truth
    accept: float  # the planted chance of taking a shown suggestion unjudged
    votes: int  # their votes on scored classes
    truth_share: float  # the share of those votes that named the truth
    reliability: float  # r_a, as the export estimated it
    anchoring: float  # q_a, as the export estimated it


@dataclass(frozen=True)
class RunResult:
    setting: QueueSetting
    mix: str
    seed: int
    classes: int  # scored classes (those with a truth)
    votes: int  # rows in the votes table
    exported: int  # scored classes whose exported label is the truth
    aggregated: int  # scored classes whose label before conflict resolution is the truth
    admin: int  # classes closed at the maximum below the target
    single: int  # scored classes closed at their first vote: no second opinion
    single_right: int  # of those, the ones whose exported label is the truth
    survey_seconds: float
    seconds: float
    served_closed: tuple[str, ...] = ()
    served_again: tuple[str, ...] = ()
    estimates: tuple[Estimate, ...] = ()
    prior: str = "shipped"

    def share(self, agreed: int) -> float:
        return agreed / self.classes


def admin_queue(setting: QueueSetting) -> int:
    """Classes the queue closed at the maximum with confidence below the target."""
    statement = select(func.count()).where(
        ClassState.votes >= setting.max_votes, ClassState.confidence < setting.target
    )
    return db.session.scalar(statement)


@dataclass(frozen=True)
class Score:
    exported: int  # scored classes whose exported label is the truth
    aggregated: int  # the same before conflict resolution
    single: int  # scored classes closed at their first vote
    single_right: int  # of those, exported as the truth
    estimates: tuple[Estimate, ...]


def score(truth: Mapping[str, str], team: Sequence[Member]) -> Score:
    """How the export compares with the truth, on every scored class and on those closed
    at their first vote, and each member's skills as the export estimated them."""
    aggregation = current_aggregation()
    before = {wnid: outcome.label for wnid, outcome in aggregation.outcomes.items()}
    exported = aggregation.resolution.assignment
    single = [
        wnid
        for wnid in db.session.scalars(
            select(ClassState.class_wnid).where(ClassState.closed, ClassState.votes == 1)
        )
        if wnid in truth
    ]
    skills = aggregation.aggregator.skills_
    counted = aggregation.aggregator.counted_votes_
    estimates = []
    for member in team:
        scored = [v for v in counted if v.annotator == member.name and v.wnid in truth]
        estimates.append(
            Estimate(
                member.name,
                1 - member.annotator.noise,
                member.accept,
                len(scored),
                sum(v.label == truth[v.wnid] for v in scored) / max(len(scored), 1),
                skills.r(member.name),
                skills.q(member.name),
            )
        )
    return Score(
        agreement(exported, truth),
        agreement(before, truth),
        len(single),
        sum(exported.get(wnid) == truth[wnid] for wnid in single),
        tuple(estimates),
    )


def run_once(
    template: Path,
    folder: Path,
    hierarchy: Hierarchy,
    truth: Mapping[str, str],
    setting: QueueSetting,
    team: Sequence[Member],
    mix: str = "",
    seed: int = 0,
    budget: int | None = None,
    on_vote: Callable[[], None] = lambda: None,
    priors: Mapping[str, Mapping[str, float]] | None = None,
) -> RunResult:
    """One setting on a fresh copy of the seeded database (and a fresh app, so no cache
    outlives its run); `priors` (class -> candidate -> probability) in place of the
    shipped model's, for the queue, the shown suggestion and the export alike."""
    started = time.perf_counter()
    database = folder / "run.sqlite3"
    # copyfile keeps the target's owner-only mode (database._create_private)
    shutil.copyfile(template, database)
    app = survey_app_on(database)
    replaced = (
        mock.patch.object(class_states, "priors", lambda: priors)
        if priors is not None
        else contextlib.nullcontext()
    )
    try:
        with app.app_context(), replaced:
            apply_setting(setting)
            members = add_team(team)
            rng = random.Random(f"votes-{seed}")
            work = work_through_queue(hierarchy, truth, members, rng, budget, on_vote)
            scored = score(truth, members)
            admin = admin_queue(setting)
            votes = db.session.scalar(select(func.count()).select_from(Vote))
            db.session.remove()
            db.engine.dispose()
    finally:
        for path in folder.glob("run.sqlite3*"):
            path.unlink()
    return RunResult(
        setting=setting,
        mix=mix,
        seed=seed,
        classes=len(truth),
        votes=votes,
        exported=scored.exported,
        aggregated=scored.aggregated,
        admin=admin,
        single=scored.single,
        single_right=scored.single_right,
        survey_seconds=work.survey_seconds,
        seconds=time.perf_counter() - started,
        served_closed=tuple(work.served_closed),
        served_again=tuple(work.served_again),
        estimates=scored.estimates,
        prior="shipped" if priors is None else "cross-fitted",
    )


# --- report -----------------------------------------------------------------------------
def fixed_baseline(results: Sequence[RunResult], result: RunResult) -> RunResult | None:
    """Fixed 3's run with the same mix, seed and suggestion setting, if there was one."""
    for other in results:
        if (
            other.setting.fixed
            and other.setting.max_votes == FIXED_VOTES
            and (other.mix, other.seed, other.setting.hide_first)
            == (result.mix, result.seed, result.setting.hide_first)
        ):
            return other
    return None


TABLE_HEADER = (
    "mix",
    "setting",
    "first vote hidden",
    "seeds",
    "votes",
    "saved",
    "exported = truth",
    "aggregated = truth",
    "admin",
    "closed at 1 vote",
    "of those = truth",
    "ms/vote",
    "run time",
)


def markdown_table(results: Sequence[RunResult]) -> str:
    """A row per mix and setting, each figure the mean over its seeds."""
    groups: dict[tuple[str, QueueSetting], list[RunResult]] = {}
    for result in results:
        groups.setdefault((result.mix, result.setting), []).append(result)
    lines = ["| " + " | ".join(TABLE_HEADER) + " |", "|" + "---|" * len(TABLE_HEADER)]
    for (mix, setting), runs in groups.items():
        lines.append("| " + " | ".join(table_row(mix, setting, runs, results)) + " |")
    return "\n".join(lines)


def table_row(
    mix: str, setting: QueueSetting, runs: Sequence[RunResult], results: Sequence[RunResult]
) -> list[str]:
    baselines = [fixed_baseline(results, run) for run in runs]
    saved = (
        f"{100 * mean(1 - r.votes / b.votes for r, b in zip(runs, baselines, strict=True)):.0f} %"
        if all(baselines)
        else "-"
    )
    votes = sum(r.votes for r in runs)
    return [
        mix,
        setting.name,
        "yes" if setting.hide_first else "no",
        " ".join(str(r.seed) for r in runs),
        f"{mean(r.votes for r in runs):.0f}",
        saved,
        f"{100 * mean(r.share(r.exported) for r in runs):.1f} %",
        f"{100 * mean(r.share(r.aggregated) for r in runs):.1f} %",
        f"{mean(r.admin for r in runs):.0f}",
        f"{mean(r.single for r in runs):.0f}",
        (
            f"{100 * sum(r.single_right for r in runs) / sum(r.single for r in runs):.1f} %"
            if any(r.single for r in runs)
            else "-"
        ),
        f"{1000 * sum(r.survey_seconds for r in runs) / max(votes, 1):.1f}",
        f"{mean(r.seconds for r in runs):.0f} s",
    ]


ESTIMATE_HEADER = (
    "mix",
    "setting",
    "annotator",
    "planted 1 - noise",
    "votes",
    "named the truth",
    "estimated r",
    "planted accept",
    "estimated q",
)


def estimates_table(results: Sequence[RunResult]) -> str:
    """A row per mix, setting and member: planted skills against the export's estimates,
    each figure the mean over the seeds."""
    groups: dict[tuple[str, QueueSetting, str], list[Estimate]] = {}
    for result in results:
        for estimate in result.estimates:
            groups.setdefault((result.mix, result.setting, estimate.name), []).append(estimate)
    lines = ["| " + " | ".join(ESTIMATE_HEADER) + " |", "|" + "---|" * len(ESTIMATE_HEADER)]
    for (mix, setting, name), estimates in groups.items():
        cells = [
            mix,
            setting.name,
            name,
            f"{mean(e.planted for e in estimates):.2f}",
            f"{mean(e.votes for e in estimates):.0f}",
            f"{mean(e.truth_share for e in estimates):.2f}",
            f"{mean(e.reliability for e in estimates):.2f}",
            f"{mean(e.accept for e in estimates):.2f}",
            f"{mean(e.anchoring for e in estimates):.2f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def queue_faults(results: Sequence[RunResult]) -> list[str]:
    """A line per run in which the queue served a closed class or one voted on."""
    return [
        f"{r.mix} {r.setting.name} seed {r.seed}: served {len(r.served_closed)} closed "
        f"and {len(r.served_again)} already voted classes"
        for r in results
        if r.served_closed or r.served_again
    ]


# --- command line -----------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Each run copies the seeded database, so runs are independent and the same "
        "seed gives the same figures. The defaults (5 settings, 2 seeds: 10 runs) took "
        "4 to 8 minutes on 2 shared cores; --hide-first both doubles that.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_truth_options(parser, DEFAULT_MIXES)
    parser.add_argument(
        "--seeds",
        nargs="+",
        type=int,
        default=list(DEFAULT_SEEDS),
        help="a run per seed and setting; a seed fixes the team's paces and every vote",
    )
    parser.add_argument(
        "--targets",
        nargs="+",
        type=float,
        default=list(DEFAULT_TARGETS),
        help=f"the adaptive queue's targets; fixed {FIXED_VOTES} votes is always run",
    )
    parser.add_argument(
        "--adaptive",
        nargs=2,
        type=int,
        action="append",
        metavar=("MIN", "MAX"),
        help="the adaptive queue's minimum and maximum votes per class; repeat it to "
        f"compare several (default: {ADAPTIVE_VOTES[0]} {ADAPTIVE_VOTES[1]})",
    )
    parser.add_argument(
        "--hide-first",
        choices=("on", "off", "both"),
        default="on",
        help="whether the first vote on a class is cast with the suggestion hidden",
    )
    parser.add_argument(
        "--annotators", type=int, default=DEFAULT_ANNOTATORS, help="the team's size"
    )
    parser.add_argument(
        "--accept",
        type=float,
        default=DEFAULT_ACCEPT,
        help="each annotator's chance of taking a shown suggestion without judging it",
    )
    parser.add_argument(
        "--prior",
        choices=PRIORS,
        default=PRIORS[0],
        help="the model's prior and suggestion: each class's from a model fitted without "
        "its truth label (cross-fitted), or the shipped model, fitted on the truth itself",
    )
    parser.add_argument(
        "--prior-folds",
        type=int,
        default=DEFAULT_PRIOR_FOLDS,
        help="grouped folds of the cross-fitted prior (a label's classes in one fold)",
    )
    parser.add_argument(
        "--budget",
        type=int,
        help="stop each run after this many votes; without it a run ends when the queue "
        "is empty for every annotator",
    )
    parser.add_argument(
        "--template-folder",
        type=Path,
        default=DEFAULT_TEMPLATE_FOLDER,
        help="where the seeded database is kept between runs of the benchmark",
    )
    args = parser.parse_args(argv)
    if args.annotators < FIXED_VOTES:
        parser.error(f"--annotators must be at least {FIXED_VOTES}, for fixed {FIXED_VOTES}")
    if not 0 <= args.accept <= 1:
        parser.error("--accept must lie between 0 and 1")
    if args.prior_folds < 2:
        parser.error("--prior-folds must be at least 2")
    if args.budget is not None and args.budget < 1:
        parser.error("--budget must be at least 1")
    if any(not 0.5 < t < 1 for t in args.targets):
        parser.error("--targets must lie strictly between 0.5 and 1")
    args.adaptive = [tuple(pair) for pair in args.adaptive or [ADAPTIVE_VOTES]]
    if any(not 1 <= low <= high for low, high in args.adaptive):
        parser.error("--adaptive needs 1 <= MIN <= MAX")
    return args


HIDE_FIRST = {"on": (True,), "off": (False,), "both": (True, False)}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    hierarchy = Hierarchy.load_or_build(args.hierarchy)  # with word facts: the suggestion
    human = read_human_labels(args.truth, hierarchy)
    if not human.labels:
        print(f"no truth: {human.describe()}", file=sys.stderr)
        return 1
    truth = human.labels
    template = seeded_template(hierarchy, args.template_folder)
    settings = compared_settings(args.targets, HIDE_FIRST[args.hide_first], args.adaptive)
    print(f"code: {code_version()}")
    print(f"truth: {human.describe()}")
    priors = None
    if args.prior == "cross-fitted":
        fitting = time.perf_counter()
        try:
            with tempfile.TemporaryDirectory(prefix="cil-simulate-team-") as folder:
                priors, shipped = held_out_priors(template, Path(folder), truth, args.prior_folds)
        except ModelError as exc:
            print(
                f"cannot cross-fit the prior on this truth: {exc}; try fewer --prior-folds, "
                "a truth with more labels, or --prior shipped",
                file=sys.stderr,
            )
            return 1
        print(
            f"prior: cross-fitted, {args.prior_folds} grouped folds "
            f"({time.perf_counter() - fitting:.0f} s to fit): {prior_fit(priors, truth)}; "
            f"the shipped model's: {prior_fit(shipped, truth)}"
        )
    else:
        print("prior: the shipped model, fitted on the truth")
    print(
        f"{args.annotators} annotators, accept {args.accept:g}, seeds "
        f"{' '.join(map(str, args.seeds))}, budget {args.budget or 'none'}"
    )
    results = run_all(args, hierarchy, truth, template, settings, priors)
    print()
    print(markdown_table(results))
    print()
    print(estimates_table(results))
    print()
    for line in queue_faults(results) or ["the queue served no closed or already voted class"]:
        print(line)
    print(f"run time: {time.perf_counter() - started:.0f} s (hierarchy and seeding included)")
    return 1 if queue_faults(results) else 0


def run_all(
    args: argparse.Namespace,
    hierarchy: Hierarchy,
    truth: Mapping[str, str],
    template: Path,
    settings: Sequence[QueueSetting],
    priors: Mapping[str, Mapping[str, float]] | None = None,
) -> list[RunResult]:
    runs = [(mix, seed, s) for mix in args.mixes for seed in args.seeds for s in settings]
    results = []
    with (
        tempfile.TemporaryDirectory(prefix="cil-simulate-team-") as folder,
        tqdm(runs, desc="runs", file=sys.stderr, delay=2, mininterval=1) as bar,
    ):
        for mix, seed, setting in bar:
            bar.set_postfix_str(f"{mix}, seed {seed}, {setting.name}")
            team = make_team(MIXES[mix], args.annotators, args.accept, seed)
            with tqdm(desc="votes", file=sys.stderr, leave=False, delay=2, mininterval=1) as votes:
                result = run_once(
                    template,
                    Path(folder),
                    hierarchy,
                    truth,
                    setting,
                    team,
                    mix,
                    seed,
                    args.budget,
                    votes.update,
                    priors,
                )
            results.append(result)
    return results


if __name__ == "__main__":
    sys.exit(main())
