"""The offline aggregation's stages at a large class list, timed one by one.

Reads a hierarchy (`Hierarchy.load`'s JSON) and a pickle of `(votes, priors,
suggestions)` (the Confident aggregator's inputs; benchmarks/growth.py's databases
hold such votes), then times, in this one process: loading the hierarchy, the
aggregator's fit, conflict resolution, the class reasons, `build_cil`, the
agreement figures and the report; then the whole `aggregate` twice more on the
same hierarchy object (a fresh process's first run pays the hierarchy's caches;
the second finds what the first kept for the same votes) and `dumps_cil` + the
report's JSON (the export's own work); then, with `--after-votes N`, `aggregate`
after each of N changes of mind (one annotator's vote on a class, spread over the
class list, moved to the class itself or its parent, as benchmarks/growth.py's
worker moves one): the aggregation after a vote, which takes what the last one
kept where the vote left it as it was (`clustering.conflict_memo`), and their
median. With `--dump PATH` it also writes what the run produced (the
CIL JSON without its creation time, the report, each outcome's label and
confidence; with `--after-votes`, the same of the last aggregation after a vote,
which reused what the ones before kept) as a pickle, so two versions of the code can
be compared with `--compare A B` (labels and JSON exactly, confidences to 1e-12).

With `--db URL` the inputs are read straight from a survey database instead
(benchmarks/page_growth.py's `--keep` folders hold one): the hierarchy, votes and
decisions by `clustering.dbread`, the priors and suggestions as the survey computes
them (`survey_app.class_states`).

    PYTHONPATH=$PWD .venv/bin/python benchmarks/aggregate_21k.py \
        --hierarchy h21k.json --votes votes21k.pkl [--dump out.pkl] [--profile fit]
    PYTHONPATH=$PWD .venv/bin/python benchmarks/aggregate_21k.py \
        --db sqlite:////tmp/agg21k/pages-21843/growth.sqlite3 [--dump out.pkl] \
        [--after-votes 5]
    PYTHONPATH=$PWD .venv/bin/python benchmarks/aggregate_21k.py --compare a.pkl b.pkl
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pickle
import pstats
import statistics
import sys
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from clustering.aggregate import aggregate, class_reasons, make_aggregator
from clustering.agreement import agreement_summary
from clustering.cil import build_cil, dumps_cil
from clustering.conflicts import resolve_conflicts
from clustering.hierarchy import Hierarchy
from clustering.votes import Vote

SETTINGS = {"weighting": "confidence", "min_votes": 2, "conflicts": "votes"}


def _timed(name: str, profile: str | None, call):
    profiler = cProfile.Profile() if profile == name else None
    started, cpu = time.perf_counter(), time.process_time()
    if profiler:
        profiler.enable()
    result = call()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    if profiler:
        profiler.disable()
        pstats.Stats(profiler).sort_stats(os.environ.get("SORT", "cumulative")).print_stats(30)
    # CPU seconds beside the wall clock's: on a shared machine they are the steadier.
    print(f"{name:<22} {seconds:7.3f} s  {cpu:7.3f} s CPU", flush=True)
    return result


def file_inputs(hierarchy_path: Path, votes_path: Path, profile: str | None) -> tuple:
    """(hierarchy, votes, decisions, priors, suggestions) from the two files."""
    hierarchy = _timed("load hierarchy", profile, lambda: Hierarchy.load(hierarchy_path))
    votes, priors, suggestions = pickle.loads(votes_path.read_bytes())
    return hierarchy, votes, [], priors, suggestions


def database_inputs(url: str, profile: str | None) -> tuple:
    """(hierarchy, votes, decisions, priors, suggestions) as the survey at `url` has them."""
    from clustering import dbread
    from survey_app import class_states, create_app
    from survey_app.caches import kept
    from survey_app.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        connection = db.session.connection()
        hierarchy = _timed("load hierarchy", profile, lambda: dbread.read_hierarchy(connection))
        # The survey's own priors are computed on its own copy of the hierarchy.
        kept("hierarchy", None, lambda: hierarchy)
        votes = dbread.read_votes(connection)
        decisions = dbread.read_decisions(connection)
        priors = _timed("priors", profile, class_states.priors)
        return hierarchy, votes, decisions, priors, class_states.suggestions()


def stages(inputs: tuple, profile: str | None) -> dict:
    hierarchy, votes, decisions, priors, suggestions = inputs
    print(f"{len(hierarchy.classes)} classes, {len(votes)} votes, {len(decisions)} decisions")
    agg = _timed(
        "fit",
        profile,
        lambda: make_aggregator(
            hierarchy, SETTINGS["weighting"], SETTINGS["min_votes"], "specific", priors, suggestions
        ).fit(votes, decisions),
    )
    outcomes = agg.outcomes_
    resolution = _timed(
        "resolve conflicts",
        profile,
        lambda: resolve_conflicts(
            hierarchy,
            agg.labels_,
            SETTINGS["conflicts"],
            scores={w: o.scores for w, o in outcomes.items()},
            decided=agg.decisions_,
            label_decisions=agg.label_decisions_,
            undecided=[w for w, o in outcomes.items() if o.status == "undecided"],
        ),
    )
    reasons = _timed(
        "class reasons",
        profile,
        lambda: class_reasons(hierarchy, outcomes, agg.decisions_, resolution, SETTINGS),
    )
    _timed(
        "build_cil",
        profile,
        lambda: build_cil(
            hierarchy,
            resolution.assignment,
            {},
            resolution.other_labels,
            names=resolution.names,
            reasons=reasons,
        ),
    )
    consensus = {w: o.label for w, o in outcomes.items() if o.status != "undecided"}
    _timed("agreement", profile, lambda: agreement_summary(agg.counted_votes_, consensus))

    run = lambda: aggregate(
        hierarchy, votes, decisions, priors=priors, suggestions=suggestions, **SETTINGS
    )
    first = _timed("aggregate (first)", profile, run)
    _timed("report", profile, first.report)
    result = _timed("aggregate (again)", profile, run)
    _timed(
        "export JSON",
        profile,
        lambda: (dumps_cil(result.cil), json.dumps(result.report(), sort_keys=True)),
    )
    return outputs(result)


def outputs(result) -> dict:
    """What `--dump` writes of an aggregation."""
    return {
        # created_at is the clock's; everything else must not change with the code.
        "cil": dumps_cil(
            replace(result.cil, provenance={**result.cil.provenance, "created_at": None})
        ),
        "report": json.dumps(result.report(), sort_keys=True),
        "outcomes": {w: (o.label, o.status, o.confidence) for w, o in result.outcomes.items()},
    }


def after_votes(inputs: tuple, count: int, profile: str | None) -> dict:
    """`aggregate` after each of `count` changes of mind (see the module's docstring);
    the last one's `outputs`."""
    hierarchy, votes, decisions, priors, suggestions = inputs
    annotator, classes = votes[0].annotator, hierarchy.classes
    seconds, result = [], None
    for i in range(count):
        wnid = classes[(i * len(classes)) // count].wnid
        label = hierarchy.chain_wnids(wnid)[-1 - i % 2]
        cast = votes[-1].time + timedelta(seconds=1)
        votes = [*votes, Vote(annotator, wnid, label, cast, f"benchmark {i}")]
        cpu = time.process_time()
        result = _timed(
            "aggregate after a vote",
            profile,
            lambda log=votes: aggregate(
                hierarchy, log, decisions, priors=priors, suggestions=suggestions, **SETTINGS
            ),
        )
        seconds.append(time.process_time() - cpu)
    print(f"{'after a vote, median':<22} {statistics.median(seconds):7.3f} s CPU")
    return outputs(result)


def compare(a_path: Path, b_path: Path) -> int:
    a, b = (pickle.loads(p.read_bytes()) for p in (a_path, b_path))
    if ("after votes" in a) != ("after votes" in b):
        print("DIFFERENT: one was dumped with --after-votes, the other without")
        return 1
    status = _compare(a, b)
    if "after votes" in a:
        print("after the votes:")
        status |= _compare(a["after votes"], b["after votes"])
    return status


def _compare(a: dict, b: dict) -> int:
    problems = [key for key in ("cil", "report") if a[key] != b[key]]
    if a["outcomes"].keys() != b["outcomes"].keys():
        problems.append("outcome classes")
    worst = 0.0
    for wnid, (label, status, confidence) in a["outcomes"].items():
        other = b["outcomes"].get(wnid)
        if other is None:
            continue
        if (label, status) != other[:2] or (confidence is None) != (other[2] is None):
            problems.append(f"outcome of {wnid}: {(label, status)} vs {other[:2]}")
        elif confidence is not None:
            worst = max(worst, abs(confidence - other[2]))
    if worst > 1e-12:
        problems.append(f"confidences differ by up to {worst:.3g}")
    print(f"{len(a['outcomes'])} outcomes; largest confidence difference {worst:.3g}")
    print("identical" if not problems else "DIFFERENT: " + "; ".join(problems[:10]))
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hierarchy", type=Path)
    parser.add_argument("--votes", type=Path, help="pickle of (votes, priors, suggestions)")
    parser.add_argument("--db", help="read the inputs from this survey database URL instead")
    parser.add_argument("--dump", type=Path, help="write the outputs here for --compare")
    parser.add_argument("--profile", help="a stage to profile (cProfile, by own time)")
    parser.add_argument("--compare", type=Path, nargs=2, metavar=("A", "B"))
    parser.add_argument(
        "--after-votes", type=int, default=0, help="then time the aggregation after N votes"
    )
    args = parser.parse_args(argv)
    if args.compare:
        return compare(*args.compare)
    if args.db:
        inputs = database_inputs(args.db, args.profile)
    elif args.hierarchy and args.votes:
        inputs = file_inputs(args.hierarchy, args.votes, args.profile)
    else:
        parser.error("--db, or --hierarchy and --votes, are needed unless --compare is given")
    dumped = stages(inputs, args.profile)
    if args.after_votes:
        dumped["after votes"] = after_votes(inputs, args.after_votes, args.profile)
    if args.dump:
        args.dump.write_bytes(pickle.dumps(dumped))
    return 0


if __name__ == "__main__":
    sys.exit(main())
