"""One epoch of training, and evaluation, each returning a dict of plain numbers.

The scores accumulate in named meters on the device (meters.py), read (a GPU sync) only when the
progress bar is updated and once at the end, summed over the processes under DDP.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from trainer.meters import AverageMeter, Reading, read_meters
from trainer.metrics import (
    argmax_then_map,
    crm_scores,
    hierarchical_sums,
    summed_softmax,
    topk_correct,
)


@dataclass(frozen=True)
class Merge:
    """A CIL to score a class-level model on, read both ways (see metrics.py)."""

    matrix: torch.Tensor  # classes x labels, one-hot rows (LabelSpace.merge_matrix)
    lookup: torch.Tensor  # class index -> label index (LabelSpace.lookup)
    distances: torch.Tensor | None = None  # labels x labels, in the WordNet hierarchy


@dataclass(frozen=True)
class Objective:
    """What training minimises: the cross-entropy of the outputs, or, for a multi-head model
    (seed 003: one backbone, a class head and a CIL head), a weighted sum of both heads'.

    A multi-head model is one network whose last layer has classes + labels outputs: the first
    `classes` are the class head, the rest the CIL head (a linear layer's outputs are independent
    rows, so this is two heads on one body).
    """

    classes: int | None = None  # multi-head: the width of the class head; None: one head
    lookup: torch.Tensor | None = None  # class -> CIL label: the CIL head's targets
    class_weight: float = 1.0
    cil_weight: float = 1.0

    def loss(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if self.classes is None:
            return F.cross_entropy(logits, targets)
        fine, coarse = logits[:, : self.classes], logits[:, self.classes :]
        return self.class_weight * F.cross_entropy(
            fine, targets
        ) + self.cil_weight * F.cross_entropy(coarse, self.lookup[targets])

    def scored(self, logits: torch.Tensor) -> torch.Tensor:
        """The outputs that the training top-1/top-5 judge: the class head's."""
        return logits if self.classes is None else logits[:, : self.classes]


class OutputSlice(nn.Module):
    """One head of a multi-head model, as a model of its own for `evaluate`."""

    def __init__(self, model: nn.Module, start: int, stop: int | None = None) -> None:
        super().__init__()
        self.model, self.start, self.stop = model, start, stop

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.model(inputs)[:, self.start : self.stop]


def autocast(device: torch.device, enabled: bool) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA; nothing elsewhere (CPU bf16 is slow and changes the numbers)."""
    if enabled and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


class Stopwatch:
    """Wall time of a stretch of device work: CUDA events on a GPU, perf_counter elsewhere."""

    def __init__(self, device: torch.device) -> None:
        self.cuda = device.type == "cuda"
        if self.cuda:
            self.begin = torch.cuda.Event(enable_timing=True)
            self.end = torch.cuda.Event(enable_timing=True)
            self.begin.record()
        else:
            self.began = time.perf_counter()

    def seconds(self) -> float:
        if self.cuda:
            self.end.record()
            self.end.synchronize()
            return self.begin.elapsed_time(self.end) / 1000
        return time.perf_counter() - self.began


def _bar(batches: Iterable, desc: str, show: bool) -> tqdm:
    # disable=None: a bar on a terminal, none in a log file
    return tqdm(batches, desc=desc, total=len(batches), disable=None if show else True, leave=False)


def train_one_epoch(
    model: nn.Module,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    *,
    device: torch.device,
    amp: bool = False,
    print_freq: int = 50,
    show_progress: bool = True,
    desc: str = "train",
    objective: Objective = Objective(),
) -> dict[str, float]:
    """Train over `batches` (inputs, label targets) once; step the schedule every step.

    Returns loss, top1, top5 (percent, on the augmented training batches), lr (at the start),
    images, seconds and images_per_s, over all processes.
    """
    model.train()
    lr = optimizer.param_groups[0]["lr"]
    meters = {name: AverageMeter(device) for name in ("loss", "top1", "top5")}
    watch = Stopwatch(device)
    bar = _bar(batches, desc, show_progress)
    for step, (inputs, targets) in enumerate(bar):
        with autocast(device, amp):
            logits = model(inputs)
            loss = objective.loss(logits, targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        with torch.no_grad():
            top1, top5 = topk_correct(objective.scored(logits.detach()), targets)
            meters["loss"].update(loss.detach() * len(targets), len(targets))
            meters["top1"].update(top1, len(targets))
            meters["top5"].update(top5, len(targets))
        if step % print_freq == 0 and show_progress:
            loss_avg = meters["loss"].average().item()
            top1 = 100 * meters["top1"].average().item()
            if bar.disable:  # no terminal (a log file, a batch job): a line instead of the bar
                print(
                    f"{desc} [{step + 1}/{len(bar)}]  loss {loss_avg:.3f}  top1 {top1:.1f}",
                    flush=True,
                )
            else:
                bar.set_postfix(loss=f"{loss_avg:.3f}", top1=f"{top1:.1f}")
    seconds = max(watch.seconds(), 1e-9)
    read = read_meters(meters)
    images = read["loss"].count
    return {
        "loss": read["loss"].average,
        "top1": read["top1"].percent,
        "top5": read["top5"].percent,
        "lr": lr,
        "images": int(images),
        "seconds": seconds,
        "images_per_s": images / seconds,
    }


@torch.no_grad()
def evaluate(
    model: nn.Module | Sequence[nn.Module],
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    *,
    lookup: torch.Tensor,
    num_labels: int,
    merge: Merge | None = None,
    distances: torch.Tensor | None = None,
    device: torch.device,
    amp: bool = False,
    show_progress: bool = True,
) -> dict[str, object]:
    """Score the model (or the ensemble of several: their softmax averaged) on `batches` of
    (inputs, class targets).

    `lookup` maps class targets to the trained labels. Returns loss, top1, top5 (percent),
    images, and per_label: for each label its images and top-1 accuracy in percent (None for
    a label without images). With `distances` between the trained labels, also severity and
    hdist5 (metrics.py), and the same four scores after conditional risk minimisation (crm_*).
    With `merge`, the scores on the CIL's labels by summed softmax (merged_*, and
    merged_per_label) and by argmax-then-map (mapped_*).
    """
    models = list(model) if isinstance(model, Sequence) else [model]
    for member in models:
        member.eval()
    views = [("", distances)]
    if distances is not None:
        views.append(("crm_", distances))
    if merge:
        views += [("merged_", merge.distances), ("mapped_", merge.distances)]
    # Every meter is made before the first batch, so that a DDP rank without a batch sums too.
    meters = {"loss": AverageMeter(device)}
    for prefix, view_distances in views:
        names = ["top1", "top5"] + ([] if view_distances is None else ["severity", "hdist5"])
        meters |= {f"{prefix}{name}": AverageMeter(device) for name in names}
    width = merge.matrix.shape[1] if merge else 0
    meters["per_label"] = AverageMeter(device, num_labels)  # top-1 hits per label
    if merge:
        meters["merged_per_label"] = AverageMeter(device, width)

    def score(prefix: str, scores: torch.Tensor, targets: torch.Tensor, d: torch.Tensor | None):
        top1, top5 = topk_correct(scores, targets)
        meters[f"{prefix}top1"].update(top1, len(targets))
        meters[f"{prefix}top5"].update(top5, len(targets))
        if d is not None:
            severity, mistakes, at_k = hierarchical_sums(scores, targets, d)
            meters[f"{prefix}severity"].update(severity, mistakes)
            meters[f"{prefix}hdist5"].update(at_k, len(targets))

    for inputs, classes in _bar(batches, "evaluate", show_progress):
        targets = lookup[classes]
        logits = _outputs(models, inputs, device, amp)
        probabilities = logits.softmax(dim=1)
        meters["loss"].update(F.cross_entropy(logits, targets, reduction="sum"), len(targets))
        score("", logits, targets, distances)
        meters["per_label"].update_per_label(targets, logits.argmax(dim=1) == targets)
        if distances is not None:
            score("crm_", crm_scores(probabilities, distances), targets, distances)
        if merge:
            merged_targets = merge.lookup[classes]
            summed = summed_softmax(probabilities, merge.matrix)
            score("merged_", summed, merged_targets, merge.distances)
            mapped = argmax_then_map(probabilities, merge.lookup, width)
            score("mapped_", mapped, merged_targets, merge.distances)
            hits = summed.argmax(dim=1) == merged_targets
            meters["merged_per_label"].update_per_label(merged_targets, hits)
    read = read_meters(meters)
    result: dict[str, object] = {"loss": read["loss"].average, "images": int(read["loss"].count)}
    for prefix, view_distances in views:
        result[f"{prefix}top1"] = read[f"{prefix}top1"].percent
        result[f"{prefix}top5"] = read[f"{prefix}top5"].percent
        if view_distances is not None:
            result[f"{prefix}severity"] = read[f"{prefix}severity"].average
            result[f"{prefix}hdist5"] = read[f"{prefix}hdist5"].average
    result["per_label"] = _accuracies(read["per_label"])
    if merge:
        result["merged_per_label"] = _accuracies(read["merged_per_label"])
    return result


def _outputs(
    models: list[nn.Module], inputs: torch.Tensor, device: torch.device, amp: bool
) -> torch.Tensor:
    """One model's logits in float32; for an ensemble, the log of its members' mean softmax,
    which every reader of logits (softmax, cross-entropy, top-k) takes as they are."""
    with autocast(device, amp):
        outputs = [member(inputs).float() for member in models]
    if len(outputs) == 1:
        return outputs[0]
    mean = torch.stack([o.softmax(dim=1) for o in outputs]).mean(dim=0)
    return mean.clamp_min(torch.finfo(mean.dtype).tiny).log()


def _accuracies(per_label: list[Reading]) -> list[dict[str, float | int | None]]:
    return [{"images": int(label.count), "top1": label.percent} for label in per_label]
