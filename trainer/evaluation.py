"""`--evaluate`: score checkpoints on the validation set without training, and, given several,
their ensemble (the members' softmax averaged, seed 002's ensembles).

A class-level model is scored on its classes and on the CIL's labels both ways (summed softmax,
argmax-then-map); a CIL-level model on its own labels. The run folder gets the same records as
training, one row per model (its path, or "ensemble") instead of one per epoch.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from trainer import distributed
from trainer.batches import make_batches
from trainer.checkpoint import best_checkpoint
from trainer.config import Config
from trainer.data import data_classes, load_validation
from trainer.engine import SecondHead, evaluate
from trainer.errors import RunError
from trainer.labels import LabelSpace, checkpoint_labels
from trainer.models import restore_model
from trainer.original import read_model_checkpoint
from trainer.records import RunRecords, run_settings, val_columns
from trainer.run import scoring
from trainer.summaries import model_summary


def evaluate_checkpoints(config: Config) -> dict[str, object]:
    """Score each checkpoint of `config.evaluate`, then their ensemble; returns the run folder
    and the rows."""
    with distributed.placed(config.device) as placement:
        return _evaluate(config, placement)


def _evaluate(config: Config, placement: distributed.Placement) -> dict[str, object]:
    device = placement.device
    amp, channels_last = config.amp_and_channels_last(device.type == "cuda")
    say = placement.say

    run_dir = config.out or Path("runs") / datetime.now().strftime("%Y%m%d-%H%M%S-evaluate")
    if (run_dir / "metrics.jsonl").exists():
        raise RunError(f"{run_dir} already holds records: choose another --out")
    classes = data_classes(config.data_dir, config.label_order)
    paths = [best_checkpoint(path) for path in config.evaluate]
    sources = [read_model_checkpoint(path, classes) for path in paths]
    trained, merged = checkpoint_labels(sources[0]["labels"], classes, config.labels)
    cil_head = None
    if "cil_head" in sources[0]:  # a multi-head model: its class head, and its CIL head after
        cil_head, _ = checkpoint_labels(sources[0]["cil_head"], classes, None)
    for path, source in zip(paths[1:], sources[1:], strict=True):
        if not trained.same_outputs(source["labels"]) or not _same_cil_head(cil_head, source):
            raise RunError(
                f"{path} has other outputs than {paths[0]}: an ensemble's members must be "
                "trained on the same labels, with the same heads"
            )
    models = [restore_model(source, trained, device, channels_last) for source in sources]

    _, val_split = load_validation(
        config.data_dir,
        label_order=config.label_order,
        image_size=config.image_size,
        workers=config.workers,
        progress=placement.is_main,
    )
    on_device = config.data_on_device is not False
    batches = make_batches(
        val_split,
        train=False,
        batch_size=config.batch_size // placement.world_size,
        device=device,
        rank=placement.rank,
        world_size=placement.world_size,
        channels_last=channels_last,
        on_device=on_device,
        workers=config.workers,
    )
    merge, distances = scoring(classes, trained, merged, device)
    records = RunRecords(run_dir) if placement.is_main else None
    if records:
        records.write_args(run_settings(config, placement, trained, merged, on_device))
    say(
        f"evaluating {len(models)} model(s) on {len(val_split):,} validation images: "
        f"{trained.num_labels} outputs ({trained.source})"
        + (f", also scored on the {merged.num_labels} labels of {merged.source}" if merged else "")
    )

    second_head = None
    if cil_head:
        cil_distances = scoring(classes, cil_head, None, device)[1]
        second_head = SecondHead(cil_head.lookup(device), cil_head.num_labels, cil_distances)
    groups = [(str(path), [model]) for path, model in zip(paths, models, strict=True)]
    if len(models) > 1:
        groups.append(("ensemble", models))
    rows = []
    for name, group in groups:
        val = evaluate(
            group,
            batches,
            lookup=trained.lookup(device),
            num_labels=trained.num_labels,
            merge=merge,
            distances=distances,
            device=device,
            amp=amp,
            show_progress=placement.is_main,
            second_head=second_head,
        )
        head_val = val.pop("second_head", None)
        row = {
            "model": name,
            "labels": trained.source,
            **val_columns(val),
            "val_images": val["images"],
        }
        if head_val:
            row.update(val_columns(head_val, "val_cil_head_"))
        rows.append(row)
        if records:
            records.append(row, plot=False)
        say(model_summary(row))
    if records:
        records.write_label_scores(val, trained, merged)
        say(f"records: {run_dir}")
    return {"run_dir": run_dir, "rows": rows, "labels": trained}


def _same_cil_head(cil_head: LabelSpace | None, source: dict[str, object]) -> bool:
    """Whether a checkpoint has the CIL head `cil_head` (None: no second head at all)."""
    if cil_head is None or "cil_head" not in source:
        return cil_head is None and "cil_head" not in source
    return cil_head.same_outputs(source["cil_head"])
