"""One table for a CIL and a set of runs: which way of getting coarse labels works best.

    python trainer/compare.py DATA_DIR RUN [RUN ...] [--labels CIL.json] [--out DIR]

Each RUN is a run folder (its best.pt) or a checkpoint. Every row is scored on the CIL's labels
over the validation set: a 1,000-way model twice (summed softmax, argmax-then-map), a model
trained on the CIL, a fine-tuned one, a multi-head one (its class head both ways, its CIL head),
and, where there are two or more 1,000-way or CIL models, their ensemble.
Columns: top-1, top-5, mistake severity and hierarchical distance@5 (see trainer/metrics.py).
The table is printed and written as comparison.csv and comparison.md.
"""

from __future__ import annotations

import argparse
import csv
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

if __package__ in (None, ""):
    # as in main.py: the repository root, not trainer/, first on sys.path
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

COLUMNS = ("row", "run", "top1", "top5", "severity", "hdist5")


@dataclass(frozen=True)
class Row:
    kind: str  # "1,000-way, summed softmax", "CIL-trained", ...
    run: str
    top1: float
    top5: float
    severity: float | None
    hdist5: float | None

    def cells(self) -> list[str]:
        def number(value: float | None) -> str:
            return "n/a" if value is None else f"{value:.2f}"

        return [self.kind, self.run, *(number(v) for v in (self.top1, self.top5))] + [
            number(self.severity),
            number(self.hdist5),
        ]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python trainer/compare.py",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "data_dir", metavar="DATA_DIR", type=Path, help="the dataset, as for main.py"
    )
    parser.add_argument(
        "runs",
        metavar="RUN",
        type=Path,
        nargs="+",
        help="run folders (their best.pt) or checkpoints",
    )
    parser.add_argument(
        "--labels", metavar="FILE", type=Path, help="the CIL; default: the project's default CIL"
    )
    parser.add_argument("--label-order", metavar="PATH", type=Path, help="as for main.py")
    parser.add_argument(
        "--out",
        metavar="DIR",
        type=Path,
        help="where to write the table; default: runs/<time>-compare",
    )
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("-b", "--batch-size", type=int, default=256, help="evaluation batch size")
    parser.add_argument("-j", "--workers", type=int, default=4, help="DataLoader workers")
    return parser


def compare(args: argparse.Namespace) -> list[Row]:
    import torch

    from trainer.batches import make_batches
    from trainer.checkpoint import best_checkpoint
    from trainer.data import data_classes, load_validation
    from trainer.distributed import resolve_device
    from trainer.engine import SecondHead, evaluate
    from trainer.errors import RunError
    from trainer.labels import checkpoint_labels, label_spaces
    from trainer.models import restore_model
    from trainer.original import read_model_checkpoint
    from trainer.run import scoring

    device = resolve_device(args.device)
    classes = data_classes(args.data_dir, args.label_order)
    cil, _ = label_spaces(classes, args.labels, original=False)
    fine, coarse, multi = [], [], []  # class-level, CIL-level and multi-head models
    for path in args.runs:
        file = best_checkpoint(path)
        source = read_model_checkpoint(file, classes)
        space, _ = checkpoint_labels(source["labels"], classes, args.labels)
        name = str(path)
        if "cil_head" in source:
            if not cil.same_outputs(source["cil_head"]):
                raise RunError(f"{file}'s CIL head has other labels than the CIL {cil.source}")
            multi.append((name, restore_model(source, space, device, False)))
        elif space.source == "original":
            fine.append((name, restore_model(source, space, device, False)))
        elif not cil.same_outputs(space.describe()):
            raise RunError(f"{file} was trained on other labels than the CIL {cil.source}")
        else:
            tuned = source.get("config", {}).get("finetuning")
            kind = "fine-tuned" if tuned else "CIL-trained"
            coarse.append((name, restore_model(source, space, device, False), kind))

    _, val_split = load_validation(
        args.data_dir, label_order=args.label_order, workers=args.workers, progress=True
    )
    batches = make_batches(
        val_split,
        train=False,
        batch_size=args.batch_size,
        device=device,
        on_device=True,
        workers=args.workers,
    )
    original, merged = label_spaces(classes, args.labels, original=True)
    merge, class_distances = scoring(classes, original, merged, device)
    _, cil_distances = scoring(classes, cil, None, device)

    def score(
        models: list[torch.nn.Module], fine_level: bool, second_head: SecondHead | None = None
    ) -> dict[str, object]:
        space = original if fine_level else cil
        return evaluate(
            models,
            batches,
            lookup=space.lookup(device),
            num_labels=space.num_labels,
            merge=merge if fine_level else None,
            distances=class_distances if fine_level else cil_distances,
            device=device,
            show_progress=True,
            second_head=second_head,
        )

    rows: list[Row] = []

    def add(kind: str, run: str, val: dict[str, object], prefix: str = "") -> None:
        rows.append(
            Row(
                kind,
                run,
                val[f"{prefix}top1"],
                val[f"{prefix}top5"],
                val.get(f"{prefix}severity"),
                val.get(f"{prefix}hdist5"),
            )
        )

    def add_fine(run: str, val: dict[str, object], kind: str = "1,000-way") -> None:
        add(f"{kind}, summed softmax", run, val, "merged_")
        add(f"{kind}, argmax-then-map", run, val, "mapped_")

    for name, model in fine:
        add_fine(name, score([model], True))
    if len(fine) > 1:
        add_fine(f"{len(fine)} runs", score([m for _, m in fine], True), "1,000-way ensemble")
    cil_head = SecondHead(cil.lookup(device), cil.num_labels, cil_distances)
    for name, model in multi:  # both heads scored from one pass
        val = score([model], True, cil_head)
        add_fine(name, val, "multi-head, class head")
        add("multi-head, CIL head", name, val["second_head"])
    for name, model, kind in coarse:
        add(kind, name, score([model], False))
    if len(coarse) > 1:
        add("CIL ensemble", f"{len(coarse)} runs", score([m for _, m, _ in coarse], False))
    return rows


def markdown(rows: list[Row]) -> str:
    header = ["row", "run", "top-1 %", "top-5 %", "mistake severity", "hier. distance@5"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from trainer.errors import USER_ERRORS

    try:
        rows = compare(args)
    except USER_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    out = args.out or Path("runs") / datetime.now().strftime("%Y%m%d-%H%M%S-compare")
    out.mkdir(parents=True, exist_ok=True)
    with (out / "comparison.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        writer.writerows(row.cells() for row in rows)
    table = markdown(rows)
    (out / "comparison.md").write_text(table)
    print(table, end="")
    print(f"written: {out / 'comparison.csv'}, {out / 'comparison.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
