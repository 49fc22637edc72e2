"""The lines a run prints: its data and model before the first epoch, then one line per epoch;
and the line per model that `--evaluate` prints. The records (records.py) hold the same numbers
in full."""

from __future__ import annotations

from torch import nn

from trainer.config import Config
from trainer.data import Dataset
from trainer.labels import LabelSpace


def describe_data(dataset: Dataset, trained: LabelSpace, merged: LabelSpace | None) -> str:
    text = (
        f"data: {dataset.layout}, {len(dataset.train):,} training and {len(dataset.val):,} "
        f"validation images of {dataset.image_size} px, {len(dataset.classes)} classes; "
        f"training {trained.num_labels} labels ({trained.source})"
    )
    if merged:
        text += f"; also scored on the {merged.num_labels} labels of {merged.source}"
    unused = (merged or trained).unused
    if unused:
        shown = ", ".join(unused[:5]) + (", ..." if len(unused) > 5 else "")
        text += (
            f"; {len(unused)} labels of the CIL hold no class of the data and get no output "
            f"({shown})"
        )
    return text


def describe_model(
    config: Config,
    model: nn.Module,
    outputs: tuple[int, ...],
    device: str,
    *,
    amp: bool,
    channels_last: bool,
    on_device: bool,
) -> str:
    """The network, its outputs (one number per head), and where and how it runs."""
    millions = sum(p.numel() for p in model.parameters()) / 1e6
    return (
        f"model: {config.arch} (width {config.width}), {millions:.2f} M parameters, "
        f"{' + '.join(map(str, outputs))} outputs; device {device}"
        f"{', bf16' if amp else ''}{', channels_last' if channels_last else ''}; "
        f"data {'on the device' if on_device else f'in host memory, {config.workers} workers'}"
    )


def epoch_summary(row: dict[str, object], epochs: int) -> str:
    merged = (
        f" | CIL top1 {row['val_merged_top1']:.2f} (argmax-then-map "
        f"{row['val_mapped_top1']:.2f}) top5 {row['val_merged_top5']:.2f}"
        if "val_merged_top1" in row
        else ""
    )
    if row.get("val_severity") is not None:
        merged += f" | mistake severity {row['val_severity']:.2f}"
    if "val_cil_head_top1" in row:
        merged += f" | CIL head top1 {row['val_cil_head_top1']:.2f}"
    return (
        f"epoch {row['epoch']}/{epochs}  lr {row['lr']:.4g}  "
        f"train loss {row['train_loss']:.4f} top1 {row['train_top1']:.2f} | "
        f"val loss {row['val_loss']:.4f} top1 {row['val_top1']:.2f} top5 {row['val_top5']:.2f}"
        f"{merged} | {row['images_per_s']:.0f} img/s, {row['epoch_seconds']:.0f} s"
    )


def model_summary(row: dict[str, object]) -> str:
    """An `--evaluate` row: one checkpoint's (or the ensemble's) scores."""
    text = f"{row['model']}: top1 {row['val_top1']:.2f} top5 {row['val_top5']:.2f}"
    if "val_merged_top1" in row:
        text += (
            f" | CIL top1 {row['val_merged_top1']:.2f} by summed softmax, "
            f"{row['val_mapped_top1']:.2f} by argmax-then-map"
        )
    if row.get("val_severity") is not None:
        text += f" | mistake severity {row['val_severity']:.2f}, hdist@5 {row['val_hdist5']:.2f}"
    return text
