"""`python -m clustering ...`: the offline pipeline's command line.

Each subcommand is a thin wrapper: parse, call a plain function, print, and
exit non-zero with a one-line message on bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from tqdm import tqdm

from clustering.aggregate import (
    AGGREGATORS,
    DEFAULT_MIN_VOTES,
    DEFAULT_TIE_BREAK,
    TIE_BREAKS,
    aggregate,
)
from clustering.cil import MAX_FILE_BYTES, write_cil
from clustering.compare import compare, format_csv, format_markdown, read_label_set
from clustering.conflicts import (
    DEFAULT_MAX_SHARE,
    DEFAULT_POLICY,
    POLICIES,
    ConflictError,
    check_collapse,
)
from clustering.confusion import (
    DEFAULT_TEMPERATURE,
    DEFAULT_THRESHOLD,
    confusion_similarity,
    describe_merges,
    merge_by_confusion,
    read_class_matrix,
    weight_similarity,
)
from clustering.discover import (
    DEFAULT_FAR,
    DEFAULT_MAX_WIDTH,
    DEFAULT_MIN_CLUSTER_SIZE,
    discover,
    format_discovery,
    read_features,
)
from clustering.entry_level import (
    EntryLevelModel,
    agreement,
    cross_validate,
    familiarities,
    fit_model,
    half_splits,
    load_default_model,
)
from clustering.errors import ClusteringError
from clustering.hierarchy import Hierarchy
from clustering.human_labels import HumanLabels, published_labels_path, read_human_labels
from clustering.popularity import (
    DEFAULT_PROVIDER,
    PROVIDERS,
    CountProvider,
    get_provider,
)
from clustering.signoff import signed_off
from clustering.strategies import (
    STRATEGY_POLICY,
    StrategyResult,
    assignment_result,
    entry_level_priors,
    popularity_assignment,
    prior_suggestions,
    strategy_cil,
    term_counts,
)
from clustering.tree_cut import cut_tree, read_tree
from clustering.validate import validate_file
from clustering.votes import read_decisions, read_votes
from clustering.wordnet import default_data_dir, ensure_wordnet


class CommandError(ClusteringError):
    """A user error: printed without a traceback, exit status 2."""


def load_hierarchy(args: argparse.Namespace, word_facts: bool = False) -> Hierarchy:
    """The hierarchy from `--hierarchy FILE` if given, else built from WordNet. With
    `word_facts`, a file saved before they were recorded gets them from WordNet."""
    if getattr(args, "hierarchy", None):
        hierarchy = Hierarchy.load(args.hierarchy)
        if word_facts and not hierarchy.has_word_facts:
            print(f"{args.hierarchy} has no word facts; reading them from WordNet", file=sys.stderr)
            hierarchy = hierarchy.with_word_facts()
        return hierarchy
    return Hierarchy.from_class_list(getattr(args, "classes", None))


def add_hierarchy_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--hierarchy",
        metavar="FILE",
        help="a hierarchy JSON written by `hierarchy --out` (faster than WordNet)",
    )
    parser.add_argument(
        "--classes",
        metavar="FILE_OR_DIR",
        help="class list: a text file of wnids or a dataset folder whose "
        "subfolders are wnids (default: the 1,000 ImageNet-1k classes)",
    )


def cmd_wordnet(args: argparse.Namespace) -> int:
    reader = ensure_wordnet(Path(args.data_dir) if args.data_dir else None)
    print(f"WordNet {reader.get_version()} ready at {reader.root}")
    return 0


def cmd_hierarchy(args: argparse.Namespace) -> int:
    hierarchy = load_hierarchy(args)
    if args.out:
        hierarchy.save(args.out)
        print(f"wrote {args.out}", file=sys.stderr)
    if args.summary or not args.out:
        for key, value in hierarchy.summary().items():
            print(f"{key}: {value}")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    report = validate_file(args.file, load_hierarchy(args), args.max_bytes)
    print(report.format())
    return 0 if report.ok else 1


# A strategy subcommand's own part: its CIL from the parsed options and the hierarchy,
# and a few words for the summary line ("depth, k=2").
StrategyBuilder = Callable[[argparse.Namespace, Hierarchy], tuple[StrategyResult, str]]


def cmd_strategy(args: argparse.Namespace) -> int:
    max_share = collapse_share(args)
    hierarchy = load_hierarchy(args, word_facts=args.build in (popularity_cil, entry_level_cil))
    result, what = args.build(args, hierarchy)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if max_share is not None:
        check_collapse(hierarchy, result.resolution, max_share)
    write_cil(result.cil, args.out, flat=args.flat)
    lifted = result.resolution.lifted
    print(
        f"{args.out}: {result.cil.num_labels} labels for {len(result.cil.classes)} classes "
        f"({what}); {result.conflicts} conflict(s) resolved ({args.conflicts})"
        + (f", {len(lifted)} label(s) lifted into {len(set(lifted.values()))}" if lifted else "")
    )
    return 0


def depth_cil(args: argparse.Namespace, hierarchy: Hierarchy) -> tuple[StrategyResult, str]:
    return (
        strategy_cil(hierarchy, "depth", k=args.k, conflicts=args.conflicts),
        f"depth, k={args.k}",
    )


def counts_provider(args: argparse.Namespace) -> CountProvider:
    return (
        get_provider("json", path=args.counts)
        if args.counts
        else get_provider(args.provider or DEFAULT_PROVIDER)
    )


def popularity_cil(args: argparse.Namespace, hierarchy: Hierarchy) -> tuple[StrategyResult, str]:
    counts = counts_provider(args)
    return (
        strategy_cil(hierarchy, "popularity", counts=counts, conflicts=args.conflicts),
        f"popularity, {counts.name}",
    )


def entry_level_cil(args: argparse.Namespace, hierarchy: Hierarchy) -> tuple[StrategyResult, str]:
    counts = counts_provider(args)
    model = EntryLevelModel.load(args.model) if args.model else None
    return (
        strategy_cil(
            hierarchy, "entry-level", counts=counts, conflicts=args.conflicts, model=model
        ),
        f"entry-level, {args.model or 'the shipped model'}, {counts.name}",
    )


def confusion_cil(args: argparse.Namespace, hierarchy: Hierarchy) -> tuple[StrategyResult, str]:
    if args.temperature is not None and not args.weights:
        raise CommandError("--temperature is for --weights")
    temperature = DEFAULT_TEMPERATURE if args.temperature is None else args.temperature
    if temperature <= 0:
        raise CommandError(f"--temperature must be above 0, got {temperature}")
    matrix = read_class_matrix(args.run, hierarchy, weights=args.weights)
    similarity = (
        weight_similarity(matrix, temperature) if args.weights else confusion_similarity(matrix)
    )
    with tqdm(desc="merging", unit="merge", disable=not sys.stderr.isatty()) as bar:
        merged = merge_by_confusion(
            hierarchy,
            similarity,
            args.labels,
            args.threshold,
            progress=lambda labels: bar.update(1),
        )
    source = "head weight rows" if args.weights else "confusion matrix"
    for line in describe_merges(hierarchy, merged.merges):
        print(f"  merged {line}", file=sys.stderr)
    settings = {
        "method": "confusion",
        "source": f"{args.run} ({source})",
        "threshold": args.threshold,
        "max_labels": args.labels,
        **({"temperature": temperature} if args.weights else {}),
        "merges": [[m.label, round(m.score, 6)] for m in merged.merges],
        "stopped": merged.stopped,
    }
    return (
        assignment_result(hierarchy, merged.assignment, settings, args.conflicts),
        f"{source}, {len(merged.merges)} merges, {merged.stopped}",
    )


def tree_cil(args: argparse.Namespace, hierarchy: Hierarchy) -> tuple[StrategyResult, str]:
    tree = read_tree(args.tree)
    cut = cut_tree(tree, hierarchy, args.level)
    settings = {
        "method": "hierarchy",
        "tree": tree.source,
        "level": args.level,
        "renamed": dict(sorted(cut.renamed.items())),
        "left_out_joined": list(cut.left_out_joined),
        "left_out_alone": list(cut.left_out_alone),
    }
    result = assignment_result(
        hierarchy, cut.assignment, settings, args.conflicts, cut.report(tree, hierarchy)
    )
    return result, (
        f"{tree.source} cut at level {args.level}: {len(cut.groups)} groups, "
        f"{len(cut.renamed)} renamed"
    )


def cmd_compare(args: argparse.Namespace) -> int:
    named = [
        given.split("=", 1) if "=" in given else (Path(given).stem, given) for given in args.cils
    ]
    names = [name for name, _ in named]
    if len(set(names)) < len(names):
        raise CommandError(
            f"two label sets share a name ({', '.join(names)}); name them as NAME=FILE"
        )
    hierarchy = load_hierarchy(args)
    sets = [
        read_label_set(name, path, hierarchy)
        for name, path in tqdm(named, desc="reading", unit="set", disable=not sys.stderr.isatty())
    ]
    reference = read_human_labels(args.reference, hierarchy)
    rows, ari = compare(sets, hierarchy, reference, args.run)
    table = format_markdown(rows, ari, Path(reference.source).stem)
    print(f"reference: {reference.describe()}")
    print(table, end="")
    if args.markdown:
        Path(args.markdown).write_text(table)
    if args.csv:
        Path(args.csv).write_text(format_csv(rows, ari))
    return 0


def cmd_discover(args: argparse.Namespace) -> int:
    hierarchy = load_hierarchy(args)
    wnids, features = read_features(args.features, hierarchy)
    labels = read_label_set("labels", args.labels or published_labels_path(), hierarchy)
    try:
        found = discover(
            hierarchy,
            wnids,
            features,
            labels.groups,
            args.min_cluster_size,
            args.far,
            args.max_width,
        )
    except ImportError:
        raise CommandError("discover needs scikit-learn: pip install -e '.[discover]'") from None
    print(
        f"{len(wnids)} classes with features ({args.features}); labels: "
        f"{args.labels or 'the published labels'}"
    )
    print(format_discovery(found, hierarchy, args.far, labels.names), end="")
    return 0


@contextmanager
def progress_bar(total: int, desc: str, unit: str) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr when it is a terminal, and the (done, total) callback that
    advances it."""
    with tqdm(total=total, desc=desc, unit=unit, disable=not sys.stderr.isatty()) as bar:
        yield lambda done, total: bar.update(1)


def suggest_inputs(
    args: argparse.Namespace,
) -> tuple[Hierarchy, HumanLabels, CountProvider, dict[str, int | None]]:
    """What the `suggest` commands start from: the hierarchy, the human labels (described
    on stdout), the count provider and the counts of every synset's terms."""
    hierarchy = load_hierarchy(args, word_facts=True)
    human = read_human_labels(args.labels, hierarchy)
    print(human.describe())
    counts = counts_provider(args)
    return hierarchy, human, counts, term_counts(hierarchy, counts)


def cmd_suggest_fit(args: argparse.Namespace) -> int:
    hierarchy, human, counts, by_term = suggest_inputs(args)
    familiarity = familiarities(hierarchy, by_term)
    started = time.perf_counter()
    with progress_bar(args.folds, "grouped folds", "fold") as progress:
        cv = cross_validate(
            hierarchy,
            human.labels,
            familiarity,
            folds=args.folds,
            seed=args.seed,
            progress=progress,
        )
    print(
        f"held-out agreement, grouped {cv.folds}-fold (no label in both parts): "
        f"{cv.hits}/{cv.total} = {100 * cv.agreement:.1f} % "
        f"(L2 per fold {', '.join(f'{x:g}' for x in cv.l2_per_fold)}; "
        f"fold sizes {', '.join(map(str, cv.fold_sizes))})"
    )
    model = fit_model(
        hierarchy,
        human.labels,
        familiarity,
        seed=args.seed,
        provenance={
            "labels": human.source,
            "counts": counts.name,
            "heldout_agreement": round(cv.agreement, 4),
            "folds": cv.folds,
            "seed": args.seed,
        },
    )
    hits, total = agreement(
        model.assignment(hierarchy, familiarity, list(human.labels)),
        human.labels,
        list(human.labels),
    )
    print(
        f"in-sample agreement: {hits}/{total} = {100 * hits / total:.1f} % "
        f"(L2 {model.l2:g}, {time.perf_counter() - started:.1f} s)"
    )
    print("weights (per standard deviation of the feature), largest first:")
    for name, weight in model.weight_table():
        print(f"  {weight:+7.3f}  {name}")
    model.save(args.out)
    print(f"wrote {args.out}")
    return 0


def cmd_suggest_evaluate(args: argparse.Namespace) -> int:
    hierarchy, human, counts, by_term = suggest_inputs(args)
    model = EntryLevelModel.load(args.model) if args.model else load_default_model()
    classes = list(human.labels)
    rows = [
        (
            f"entry-level model ({args.model or 'shipped'})",
            model.assignment(hierarchy, familiarities(hierarchy, by_term), classes),
        ),
        (
            "original rule (most searched ancestor by word counts, too-general words left out)",
            popularity_assignment(hierarchy, by_term, per_sense=False),
        ),
        ("popularity (per sense)", popularity_assignment(hierarchy, by_term)),
        ("the class itself", {c: c for c in classes}),
    ]
    print(f"agreement with the labels on their {len(classes)} classes ({counts.name} counts):")
    for name, assignment in rows:
        hits, total = agreement(assignment, human.labels, classes)
        print(f"  {hits:4d}/{total} = {100 * hits / total:5.1f} %  {name}")
    return 0


def cmd_suggest_halves(args: argparse.Namespace) -> int:
    hierarchy, human, counts, by_term = suggest_inputs(args)
    familiarity = familiarities(hierarchy, by_term)
    with progress_bar(2 * args.splits, "half splits", "half") as progress:
        results = half_splits(
            hierarchy,
            human.labels,
            familiarity,
            splits=args.splits,
            seed=args.seed,
            progress=progress,
        )
    print(
        f"fitted on one half of the labels (whole label groups), scored on the other "
        f"({counts.name} counts):"
    )
    for result in results:
        print(
            f"  split seed {result.seed}, trained on {result.trained_on} classes: "
            f"{result.hits}/{result.total} = {100 * result.agreement:.1f} %"
        )
    lowest = min(results, key=lambda r: r.agreement)
    print(
        f"lowest: {100 * lowest.agreement:.1f} %, mean: "
        f"{100 * sum(r.agreement for r in results) / len(results):.1f} %"
    )
    return 0


def cmd_aggregate(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    max_share = collapse_share(args)
    if args.db:
        if args.decisions:
            raise CommandError(
                "--decisions is for --votes; with --db the decisions come from the database"
            )
        # SQLAlchemy comes with the app's extra; only this path needs it.
        from clustering.dbread import read_everything

        hierarchy, votes, decisions = read_everything(args.db)
        if args.hierarchy or args.classes:
            hierarchy = load_hierarchy(args)
        source = "database"
    else:
        hierarchy = load_hierarchy(args)
        votes = read_votes(args.votes, hierarchy)
        decisions = read_decisions(args.decisions, hierarchy) if args.decisions else []
        source = str(args.votes)
    priors = suggestions = None
    if args.weighting == "confidence":  # the survey's numbers, with the offline counts
        if not hierarchy.has_word_facts:
            hierarchy = hierarchy.with_word_facts()
        priors = entry_level_priors(hierarchy, get_provider(DEFAULT_PROVIDER))
        suggestions = prior_suggestions(priors)
    result = aggregate(
        hierarchy,
        votes,
        decisions,
        min_votes=args.min_votes,
        tie_break=args.tie_break,
        weighting=args.weighting,
        conflicts=args.conflicts,
        max_share=max_share,
        source=source,
        priors=priors,
        suggestions=suggestions,
    )
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    write_cil(result.cil, args.out, flat=args.flat)
    report = result.report()
    if args.report:
        Path(args.report).write_text(json.dumps(report, sort_keys=True, indent=1) + "\n")
    counted = result.cil.provenance["votes"]
    alpha = result.agreement["krippendorff_alpha_nominal"]
    print(
        f"{args.out}: {result.cil.num_labels} labels for {len(result.cil.classes)} classes "
        f"from {counted['counted']} counted votes of {counted['annotators']} annotator(s); "
        f"{counted['undecided']} undecided, {counted['decided_by_admin']} decided by an admin, "
        f"{len(result.resolution.conflicts)} conflict(s) resolved ({args.conflicts}), "
        f"{len(report['overlaps'])} overlap(s); Krippendorff's alpha "
        f"{'undefined' if alpha is None else f'{alpha:.3f}'}; "
        f"{time.perf_counter() - started:.2f} s"
    )
    return 0


def _at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number not below `minimum`."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected at least {minimum}, got {value}")
        return value

    return parse


def _share(text: str) -> float:
    """An argparse type: a share of the classes, above 0 and at most 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"expected a share above 0 and at most 1, got {value}")
    return value


def add_output_options(
    parser: argparse.ArgumentParser, policy: str | None = DEFAULT_POLICY
) -> None:
    """--out and --flat, and the conflict options with `policy` as the default (None:
    none, for a command that settles its conflicts itself)."""
    parser.add_argument("--out", metavar="FILE", required=True, help="the CIL JSON to write")
    parser.add_argument(
        "--flat",
        action="store_true",
        help="write the original flat {wnid: label name} format instead",
    )
    if policy is None:
        return
    parser.add_argument(
        "--conflicts",
        choices=POLICIES,
        default=policy,
        help="how to settle a label that is an ancestor of another, where no admin "
        "decision settles it: votes (keep or merge each specific label, whichever "
        "satisfies more votes), other (keep every specific label and rename the general "
        "one 'other ...'), lift (merge every specific label into it), or refuse "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--max-share",
        type=_share,
        metavar="FRACTION",
        help="lift refuses to put more than this share of the classes under "
        f"one label (default: {DEFAULT_MAX_SHARE})",
    )
    parser.add_argument(
        "--allow-collapse",
        action="store_true",
        help="let lift put any share of the classes under one label",
    )


def collapse_share(args: argparse.Namespace) -> float | None:
    """The share of the classes `lift` may put under one label; None for no limit, and
    for the other policies, which lift nothing: there the options would be silent."""
    if args.conflicts != "lift":
        if args.allow_collapse or args.max_share is not None:
            raise CommandError("--allow-collapse and --max-share are for --conflicts lift")
        return None
    if args.allow_collapse:
        if args.max_share is not None:
            raise CommandError("--allow-collapse sets no limit; leave out --max-share")
        return None
    return DEFAULT_MAX_SHARE if args.max_share is None else args.max_share


def add_counts_options(parser: argparse.ArgumentParser) -> None:
    counts = parser.add_mutually_exclusive_group()
    # No argparse default: one equal to a given value hides it from the exclusion check.
    counts.add_argument(
        "--provider",
        choices=PROVIDERS,
        help=f"the search-count provider (default: {DEFAULT_PROVIDER})",
    )
    counts.add_argument(
        "--counts", metavar="FILE", help="a JSON file {term: count} to use instead of a provider"
    )


def add_strategy(
    strategies: argparse._SubParsersAction, name: str, summary: str, build: StrategyBuilder
) -> argparse.ArgumentParser:
    """`strategy NAME` with the options every strategy shares (hierarchy, output,
    conflicts); the caller adds the strategy's own to the parser returned."""
    parser = strategies.add_parser(name, help=summary, description=summary)
    add_hierarchy_options(parser)
    add_output_options(parser, STRATEGY_POLICY)
    parser.set_defaults(func=cmd_strategy, build=build)
    return parser


def add_suggest(
    commands: argparse._SubParsersAction,
    name: str,
    summary: str,
    run: Callable[[argparse.Namespace], int],
    description: str | None = None,
) -> argparse.ArgumentParser:
    """`suggest NAME` with the options every suggest command shares (human labels,
    counts, hierarchy: `suggest_inputs` reads them); the caller adds the command's own."""
    parser = commands.add_parser(name, help=summary, description=description)
    parser.add_argument(
        "--labels",
        metavar="FILE",
        help="human labels: any CIL, flat or rich (default: the original project's "
        "published labels, shipped as clustering/data/published_cil_v3.json)",
    )
    add_counts_options(parser)
    add_hierarchy_options(parser)
    parser.set_defaults(func=run)
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m clustering",
        description="Clustered ImageNet Labels: the offline pipeline (WordNet hierarchy, "
        "automatic strategies, vote aggregation, CIL validation).",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("wordnet", help="find or set up WordNet 3.0 for nltk")
    p.add_argument(
        "--data-dir", help=f"nltk data folder to set it up in (default: {default_data_dir()})"
    )
    p.set_defaults(func=cmd_wordnet)

    p = sub.add_parser("hierarchy", help="build the hypernym hierarchy above the classes")
    add_hierarchy_options(p)
    p.add_argument(
        "--summary",
        action="store_true",
        help="print classes, synsets and multi-path classes (default without --out)",
    )
    p.add_argument("--out", metavar="FILE", help="write the hierarchy as JSON")
    p.set_defaults(func=cmd_hierarchy)

    p = sub.add_parser("validate", help="check a CIL file (rich or flat) and report every problem")
    p.add_argument("file", metavar="FILE", help="the CIL JSON")
    p.add_argument(
        "--max-bytes",
        type=_at_least(1),
        default=MAX_FILE_BYTES,
        help="refuse a larger file without reading it (default: %(default)s, 32 MiB)",
    )
    add_hierarchy_options(p)
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser(
        "strategy",
        help="an automatic CIL: k levels up, the most popular "
        "ancestor, the entry-level model, a model's "
        "confusions, or a cut of a curated tree",
    )
    strategies = p.add_subparsers(dest="strategy", required=True)
    p = add_strategy(
        strategies,
        "depth",
        "each class to its ancestor k levels up its longest hypernym path",
        depth_cil,
    )
    p.add_argument(
        "--k", type=_at_least(0), default=1, help="how many levels up (default: %(default)s)"
    )
    p = add_strategy(
        strategies,
        "popularity",
        "each class to its most searched ancestor, too-general words left out",
        popularity_cil,
    )
    add_counts_options(p)
    p = add_strategy(
        strategies,
        "entry-level",
        "each class to the candidate the entry-level model, fitted on human labels, ranks first",
        entry_level_cil,
    )
    add_counts_options(p)
    p.add_argument(
        "--model",
        metavar="FILE",
        help="a model written by `suggest fit` (default: the shipped one, fitted "
        "on the original project's published labels)",
    )

    p = add_strategy(
        strategies,
        "confusion",
        "merge the classes a trained 1,000-way model confuses, through WordNet synsets only",
        confusion_cil,
    )
    p.description += (
        ". Each step merges into the synset whose current labels the model confuses most "
        "with each other: the share of the merged images turned from mistakes into hits, "
        "per label removed (for two classes, their mutual confusion rate). Merging into a "
        "synset takes every label below it, so the labels stay a partition."
    )
    p.add_argument(
        "--run",
        metavar="RUN_DIR_OR_NPY",
        required=True,
        help="a run folder of a 1,000-way model after `python -m trainer.features "
        "RUN_DIR` (confusion.npy, head_weights.npy, classes.txt), or a .npy "
        "file; rows are named by classes.txt beside it, else they are the "
        "classes in sorted wnid order",
    )
    p.add_argument(
        "--weights",
        action="store_true",
        help="use the head's weight rows (cosine similarity, softmax at "
        "--temperature) instead of the validation confusion matrix",
    )
    p.add_argument(
        "--labels",
        type=_at_least(1),
        metavar="K",
        help="stop once there are at most K labels (default: only the threshold stops)",
    )
    p.add_argument(
        "--threshold",
        type=_share,
        default=DEFAULT_THRESHOLD,
        metavar="RATE",
        help="stop when no merge scores at least this rate (default: %(default)s)",
    )
    p.add_argument(
        "--temperature",
        type=float,
        help="with --weights: the softmax temperature over cosine similarities "
        f"(default: {DEFAULT_TEMPERATURE})",
    )

    p = add_strategy(
        strategies,
        "hierarchy",
        "cut a curated tree over the classes (BREEDS' format) at a level",
        tree_cil,
    )
    p.description += (
        ". Each class goes to its tree ancestor at the level. A group whose node is not on "
        "every member's WordNet chain is labelled by the deepest synset over all of them; a "
        "class the tree leaves out joins the most specific chosen label above it in "
        "WordNet, else keeps its own label. Both are reported."
    )
    p.add_argument(
        "--tree",
        metavar="FILE_OR_DIR",
        required=True,
        help="class_hierarchy.txt ('PARENT_WNID CHILD_WNID' per line), or a folder "
        "holding it; node_names.txt beside it names the nodes in reports. "
        "BREEDS' files: imagenet_class_hierarchy/modified/ of the "
        "MadryLab/BREEDS-Benchmarks repository",
    )
    p.add_argument(
        "--level",
        type=_at_least(0),
        required=True,
        help="the level to cut at: the shortest distance from the tree's root "
        "(0), as BREEDS counts levels",
    )

    p = sub.add_parser(
        "suggest", help="the entry-level model: fit it on human labels, or score it against them"
    )
    suggest = p.add_subparsers(dest="suggest", required=True)
    p = add_suggest(
        suggest,
        "fit",
        "fit the model; report grouped k-fold held-out agreement",
        cmd_suggest_fit,
        description="Fit the entry-level model on human labels. Reports "
        "held-out agreement over grouped folds (classes sharing a label "
        "never in both parts; the L2 strength chosen inside each training "
        "part), the in-sample agreement and the weights.",
    )
    p.add_argument("--out", metavar="FILE", required=True, help="the model JSON to write")
    p.add_argument(
        "--folds",
        type=_at_least(2),
        default=5,
        help="grouped folds for the held-out figure (default: %(default)s)",
    )
    p.add_argument(
        "--seed",
        type=_at_least(0),
        default=0,
        help="orders equal-sized label groups when dealing folds (default: 0)",
    )
    p = add_suggest(
        suggest,
        "evaluate",
        "agreement of a model and the baselines with human labels",
        cmd_suggest_evaluate,
    )
    p.add_argument(
        "--model",
        metavar="FILE",
        help="a model written by `suggest fit` (default: the shipped one)",
    )
    p = add_suggest(
        suggest,
        "halves",
        "fit on one half of the labels, score on the other",
        cmd_suggest_halves,
        description="How well the model carries to label groups it never "
        "saw: the labelled classes split in two by whole label groups, a "
        "model fitted on each half (L2 chosen inside it) and scored on the "
        "other half, for several splits. Prints each half's agreement and "
        "the lowest.",
    )
    p.add_argument(
        "--splits",
        type=_at_least(1),
        default=3,
        help="two-way splits, each scored both ways (default: %(default)s)",
    )
    p.add_argument(
        "--seed",
        type=_at_least(0),
        default=0,
        help="the first split's seed; later splits take the next ones (default: 0)",
    )

    p = sub.add_parser(
        "compare",
        help="label sets side by side: sizes, balance, agreement, ARI, validity",
        description="For each CIL: labels, singletons, the largest label's share, the "
        "entropy of the classes over the labels and its balance (entropy / "
        "log2 labels), agreement with a reference (the share of its classes given "
        "the same synset), whether `validate` passes; the adjusted Rand index "
        "between every two sets; with --run, a 1,000-way model's top-1 on each "
        "set by argmax-then-map and summed softmax. Prints Markdown.",
    )
    p.add_argument(
        "cils",
        nargs="+",
        metavar="[NAME=]CIL",
        help="label sets, rich or flat; named by the file's stem unless NAME= is given",
    )
    p.add_argument(
        "--reference",
        metavar="CIL",
        help="the labels agreement is measured against (default: the original "
        "project's published labels)",
    )
    p.add_argument(
        "--run",
        metavar="RUN_DIR",
        help="a 1,000-way run after `python -m trainer.features RUN_DIR`: its "
        "confusion.npy (and val_probabilities.npy, for summed softmax)",
    )
    p.add_argument("--markdown", metavar="FILE", help="also write the tables as Markdown")
    p.add_argument("--csv", metavar="FILE", help="also write the figures as CSV")
    add_hierarchy_options(p)
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser(
        "discover",
        help="groups of classes close in a model's features but far in WordNet, "
        "and labels the model splits",
        description="Cluster the classes' mean penultimate features (HDBSCAN on the centred, "
        "unit-length means) and list the clusters whose classes meet only --far or "
        "more levels up in WordNet, and the labels of a CIL whose classes fall into "
        "two or more clusters: what an admin reads before settling. Needs "
        "scikit-learn (the `discover` extra).",
    )
    p.add_argument(
        "features",
        metavar="FEATURES",
        help="features.npz written by `python -m trainer.features RUN_DIR` (or the "
        "run folder), with classes.txt beside it",
    )
    p.add_argument(
        "--labels",
        metavar="CIL",
        help="the label set to look for splits in (default: the original "
        "project's published labels)",
    )
    p.add_argument(
        "--min-cluster-size",
        type=_at_least(2),
        default=DEFAULT_MIN_CLUSTER_SIZE,
        help="HDBSCAN's smallest cluster (default: %(default)s)",
    )
    p.add_argument(
        "--max-width",
        type=_share,
        default=DEFAULT_MAX_WIDTH,
        metavar="SHARE",
        help="a cluster's classes must all lie within this share of the median "
        "distance between two classes (default: %(default)s)",
    )
    p.add_argument(
        "--far",
        type=_at_least(1),
        default=DEFAULT_FAR,
        metavar="LEVELS",
        help="a cluster is far in WordNet when a class climbs this many levels to "
        "the synset all its classes share (default: %(default)s)",
    )
    add_hierarchy_options(p)
    p.set_defaults(func=cmd_discover)

    p = sub.add_parser("aggregate", help="votes -> a sound CIL, with an agreement report")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--votes", metavar="FILE", help="votes as JSON lines")
    source.add_argument(
        "--db",
        metavar="URL",
        help="read votes, decisions and the hierarchy from the survey database "
        "(a SQLAlchemy URL, e.g. sqlite:///instance/cil.sqlite3)",
    )
    p.add_argument(
        "--decisions",
        metavar="FILE",
        help="admin decisions as JSON lines: class decisions (admin, wnid, label, time, "
        "note) and label decisions (admin, general, keep, merge, name, time, note)",
    )
    add_hierarchy_options(p)
    add_output_options(p)
    p.add_argument(
        "--min-votes",
        type=_at_least(1),
        default=DEFAULT_MIN_VOTES,
        help="votes a class needs; with fewer it keeps its own label (default: %(default)s)",
    )
    p.add_argument(
        "--weighting",
        choices=tuple(AGGREGATORS),
        default="none",
        help="none: plain majority; wawa: each annotator weighted by agreement "
        "with the majority; confidence: the most probable label given the votes, each "
        "annotator's reliability and the entry-level model's prior (with the offline "
        "wordfreq counts), as the survey's export and queue (default: %(default)s)",
    )
    p.add_argument(
        "--tie-break",
        choices=TIE_BREAKS,
        default=DEFAULT_TIE_BREAK,
        help="which tied synset wins: the later (more specific) or earlier in the "
        "class's chain (default: %(default)s)",
    )
    p.add_argument(
        "--report",
        metavar="FILE",
        help="write per-class shares, agreement, undecided classes and conflicts as JSON",
    )
    p.set_defaults(func=cmd_aggregate)

    p = sub.add_parser(
        "signoff",
        help="human labels (any CIL) signed off: as unanimous voters' votes, each label "
        "conflict settled by accepting its proposed resolution",
        description="Turn a CIL's labels (by default the original project's published ones) "
        "into the votes of VOTERS annotators who agree on every class, settle each conflict "
        "among them by accepting the proposed resolution (recorded as label decisions in the "
        "provenance), and write the sound CIL. This is how trainer/data/default_cil.json is "
        "made. Classes whose label is no synset on their chain get no votes and keep their "
        "own label, saying why.",
    )
    p.add_argument(
        "--labels",
        metavar="CIL",
        help="the human labels, flat or rich (default: clustering/data/published_cil_v3.json)",
    )
    p.add_argument(
        "--voters",
        type=_at_least(1),
        default=3,
        help="how many unanimous voters each label stands for (default: %(default)s)",
    )
    add_hierarchy_options(p)
    add_output_options(p, policy=None)  # its conflicts are settled by accepted proposals
    p.set_defaults(func=cmd_signoff)
    return parser


def cmd_signoff(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    hierarchy = load_hierarchy(args)
    result, human = signed_off(hierarchy, args.labels, args.voters)
    write_cil(result.cil, args.out, flat=args.flat)
    changed = sum(result.resolution.assignment[w] != label for w, label in human.labels.items())
    print(
        f"{args.out}: {result.cil.num_labels} labels for {len(result.cil.classes)} classes from "
        f"{human.describe()}; {len(result.resolution.groups)} conflict(s) settled by accepted "
        f"proposals, {changed} class(es) moved or merged from their label; "
        f"{time.perf_counter() - started:.2f} s"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ConflictError as exc:  # the input is sound, the chosen policy refused it
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (ClusteringError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
