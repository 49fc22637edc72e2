"""A run's folder: what was asked, what happened each epoch, and the curves.

    args.json        the settings, plus the environment (torch version, device, processes, and
                     the git commit of the trainer's code)
    metrics.jsonl    one JSON object per epoch (the record of truth)
    metrics.csv      the same rows as a table, rewritten from metrics.jsonl after each epoch
    per_label.csv    each label's images and top-1 accuracy at the best epoch
    per_label_cil.csv   the same on the CIL's labels, for a class-level model given a CIL
    curves.png       loss and accuracy against epoch, like the paper's Figure 5
    epoch_NNN.pt, best.pt   checkpoints (checkpoint.py)

The plot uses matplotlib's object API (Figure, no pyplot), so it needs no display and sets no
global backend.
"""

from __future__ import annotations

import csv
import json
import subprocess
from datetime import datetime
from pathlib import Path

import torch
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from trainer.config import Config
from trainer.distributed import Placement
from trainer.labels import LabelSpace

CODE_DIR = Path(__file__).resolve().parent  # the trainer's code: args.json records its commit

ACCURACY_CURVES = (
    ("train_top1", "train top-1", "tab:blue", ":"),
    ("train_top5", "train top-5", "tab:orange", ":"),
    ("val_top1", "val top-1", "tab:blue", "-"),
    ("val_top5", "val top-5", "tab:orange", "-"),
    ("val_merged_top1", "val top-1, CIL labels by summed softmax", "tab:green", "-"),
    ("val_merged_top5", "val top-5, CIL labels by summed softmax", "tab:red", "-"),
    ("val_mapped_top1", "val top-1, CIL labels by argmax-then-map", "tab:purple", "--"),
)


class RunRecords:
    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.jsonl = self.directory / "metrics.jsonl"

    def write_args(self, settings: dict[str, object]) -> None:
        text = json.dumps(settings, indent=2, sort_keys=True)
        (self.directory / "args.json").write_text(text + "\n")

    def rows(self) -> list[dict[str, object]]:
        if not self.jsonl.exists():
            return []
        return [json.loads(line) for line in self.jsonl.read_text().splitlines() if line]

    def keep_until(self, epoch: int) -> None:
        """Drop rows after `epoch`: a resumed run rewrites the epochs its checkpoint lacks."""
        kept = [row for row in self.rows() if row["epoch"] <= epoch]
        self.jsonl.write_text("".join(json.dumps(row) + "\n" for row in kept))
        self._write_csv(kept)

    def append(self, row: dict[str, object], *, plot: bool = True) -> None:
        """Add a row; `plot` redraws the curves (an evaluation's rows are models, not epochs)."""
        with self.jsonl.open("a") as handle:
            handle.write(json.dumps(row) + "\n")
        rows = self.rows()
        self._write_csv(rows)
        if plot:
            plot_curves(rows, self.directory / "curves.png")

    def _write_csv(self, rows: list[dict[str, object]]) -> None:
        columns = list(dict.fromkeys(key for row in rows for key in row))
        with (self.directory / "metrics.csv").open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)

    def write_per_label(
        self,
        name: str,
        names: tuple[str, ...],
        wnids: tuple[str | None, ...],
        per_label: list[dict[str, object]],
    ) -> None:
        with (self.directory / name).open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["label", "wnid", "name", "images", "top1"])
            for index, (label_name, wnid, entry) in enumerate(
                zip(names, wnids, per_label, strict=True)
            ):
                top1 = "" if entry["top1"] is None else f"{entry['top1']:.2f}"
                writer.writerow([index, wnid or "", label_name, entry["images"], top1])

    def write_label_scores(
        self, val: dict[str, object], trained: LabelSpace, merged: LabelSpace | None
    ) -> None:
        """An evaluation's per-label scores: per_label.csv, and per_label_cil.csv for a CIL."""
        self.write_per_label("per_label.csv", trained.names, trained.wnids, val["per_label"])
        if merged:
            self.write_per_label(
                "per_label_cil.csv", merged.names, merged.wnids, val["merged_per_label"]
            )


def run_settings(
    config: Config,
    placement: Placement,
    trained: LabelSpace,
    merged: LabelSpace | None,
    data_on_device: bool,
) -> dict[str, object]:
    """What args.json holds: the settings, and what else decides the numbers."""
    return {
        **config.to_dict(),
        "environment": {
            "torch": torch.__version__,
            "device": str(placement.device),
            "processes": placement.world_size,
            "data_on_device": data_on_device,
            "git_commit": code_commit(),
        },
        "num_labels": trained.num_labels,
        "merged_num_labels": merged.num_labels if merged else None,
    }


def code_commit(folder: Path = CODE_DIR) -> str:
    """The commit checked out in the git repository that holds `folder` (the trainer's code), or
    "unknown" without git or a repository: the record is a help, never a reason to stop a run."""
    try:
        found = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):  # no git, no such folder, not a repository
        return "unknown"
    return found.stdout.strip() or "unknown"


def epoch_row(
    epoch: int, train: dict[str, object], val: dict[str, object], seconds: float
) -> dict[str, object]:
    """An epoch's row of metrics.jsonl from its training and evaluation results."""
    row = {
        "epoch": epoch,
        "lr": train["lr"],
        **{f"train_{key}": train[key] for key in ("loss", "top1", "top5")},
        **val_columns(val),
    }
    row["train_images"] = train["images"]
    row["val_images"] = val["images"]
    row["images_per_s"] = train["images_per_s"]
    row["train_seconds"] = train["seconds"]
    row["epoch_seconds"] = seconds
    row["time"] = datetime.now().isoformat(timespec="seconds")
    return row


def val_columns(val: dict[str, object], prefix: str = "val_") -> dict[str, object]:
    """An evaluation's scores as the `val_*` columns of a row (images and per-label lists apart)."""
    return {
        f"{prefix}{key}": value
        for key, value in val.items()
        if key != "images" and not key.endswith("per_label")
    }


def plot_curves(rows: list[dict[str, object]], path: Path) -> None:
    curves_figure(rows).savefig(path, dpi=120)


def curves_figure(rows: list[dict[str, object]]) -> Figure:
    """Loss (left) and top-1/top-5 accuracy (right) per epoch; dotted: training, solid: val.

    Every point has a marker: after one epoch each curve is a single point, which a line alone
    does not draw.
    """
    epochs = [row["epoch"] for row in rows]
    figure = Figure(figsize=(11, 4.2), layout="constrained")
    loss_axes, accuracy_axes = figure.subplots(1, 2)
    loss_axes.plot(epochs, [row["train_loss"] for row in rows], ":o", ms=3, label="train")
    loss_axes.plot(epochs, [row["val_loss"] for row in rows], "-o", ms=3, label="val")
    loss_axes.set_ylabel("cross-entropy loss")
    for key, label, color, style in ACCURACY_CURVES:
        if rows and key in rows[0]:
            values = [row[key] for row in rows]
            accuracy_axes.plot(epochs, values, style + "o", ms=3, color=color, label=label)
    accuracy_axes.set_ylabel("accuracy (%)")
    for axes in (loss_axes, accuracy_axes):
        axes.set_xlabel("epoch")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.grid(alpha=0.3)
        axes.legend(fontsize="small")
    return figure
