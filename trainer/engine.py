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
    distances: torch.Tensor | None = None  # labels x labels, on Bertinetto et al.'s tree


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


@dataclass(frozen=True)
class SecondHead:
    """The CIL head of a multi-head model: the outputs after the class head's, scored against
    the CIL's labels in the same pass over the data as the class head."""

    lookup: torch.Tensor  # class index -> the head's label index
    num_labels: int
    distances: torch.Tensor | None = None  # labels x labels, on Bertinetto et al.'s tree


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


class _Scores:
    """One head's meters over an evaluation pass, and what they read as at its end."""

    def __init__(
        self,
        device: torch.device,
        lookup: torch.Tensor,
        num_labels: int,
        merge: Merge | None,
        distances: torch.Tensor | None,
    ) -> None:
        self.lookup, self.merge, self.distances = lookup, merge, distances
        self.views = [("", distances)]
        if distances is not None:
            self.views.append(("crm_", distances))
        if merge:
            self.views += [("merged_", merge.distances), ("mapped_", merge.distances)]
        self.width = merge.matrix.shape[1] if merge else 0
        # Every meter is made before the first batch, so that a DDP rank without a batch sums too.
        meters = self.meters = {"loss": AverageMeter(device)}
        for view, view_distances in self.views:
            names = ["top1", "top5"] + ([] if view_distances is None else ["severity", "hdist5"])
            meters |= {f"{view}{name}": AverageMeter(device) for name in names}
        meters["per_label"] = AverageMeter(device, num_labels)  # top-1 hits per label
        if merge:
            meters["merged_per_label"] = AverageMeter(device, self.width)

    def _score(
        self, view: str, scores: torch.Tensor, targets: torch.Tensor, d: torch.Tensor | None
    ) -> None:
        top1, top5 = topk_correct(scores, targets)
        self.meters[f"{view}top1"].update(top1, len(targets))
        self.meters[f"{view}top5"].update(top5, len(targets))
        if d is not None:
            severity, mistakes, at_k = hierarchical_sums(scores, targets, d)
            self.meters[f"{view}severity"].update(severity, mistakes)
            self.meters[f"{view}hdist5"].update(at_k, len(targets))

    def add(self, logits: torch.Tensor, classes: torch.Tensor) -> None:
        targets = self.lookup[classes]
        probabilities = logits.softmax(dim=1)
        loss = F.cross_entropy(logits, targets, reduction="sum")
        self.meters["loss"].update(loss, len(targets))
        self._score("", logits, targets, self.distances)
        hits = logits.argmax(dim=1) == targets
        self.meters["per_label"].update_per_label(targets, hits)
        if self.distances is not None:
            crm = crm_scores(probabilities, self.distances)
            self._score("crm_", crm, targets, self.distances)
        if self.merge:
            merged_targets = self.merge.lookup[classes]
            summed = summed_softmax(probabilities, self.merge.matrix)
            self._score("merged_", summed, merged_targets, self.merge.distances)
            mapped = argmax_then_map(probabilities, self.merge.lookup, self.width)
            self._score("mapped_", mapped, merged_targets, self.merge.distances)
            hits = summed.argmax(dim=1) == merged_targets
            self.meters["merged_per_label"].update_per_label(merged_targets, hits)

    def result(self, read: dict[str, Reading | list[Reading]]) -> dict[str, object]:
        result: dict[str, object] = {
            "loss": read["loss"].average,
            "images": int(read["loss"].count),
        }
        for view, view_distances in self.views:
            result[f"{view}top1"] = read[f"{view}top1"].percent
            result[f"{view}top5"] = read[f"{view}top5"].percent
            if view_distances is not None:
                result[f"{view}severity"] = read[f"{view}severity"].average
                result[f"{view}hdist5"] = read[f"{view}hdist5"].average
        result["per_label"] = _accuracies(read["per_label"])
        if self.merge:
            result["merged_per_label"] = _accuracies(read["merged_per_label"])
        return result


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
    second_head: SecondHead | None = None,
) -> dict[str, object]:
    """Score the model (or the ensemble of several: their softmax averaged) on `batches` of
    (inputs, class targets).

    `lookup` maps class targets to the trained labels. Returns loss, top1, top5 (percent),
    images, and per_label: for each label its images and top-1 accuracy in percent (None for
    a label without images). With `distances` between the trained labels, also severity and
    hdist5 (metrics.py), and the same four scores after conditional risk minimisation (crm_*).
    With `merge`, the scores on the CIL's labels by summed softmax (merged_*, and
    merged_per_label) and by argmax-then-map (mapped_*).

    With `second_head`, the first `num_labels` outputs are the class head and the rest the CIL
    head, scored from the same forward pass; the CIL head's scores are under "second_head".
    """
    models = list(model) if isinstance(model, Sequence) else [model]
    for member in models:
        member.eval()
    class_columns = slice(0, num_labels) if second_head else slice(None)
    heads = [(_Scores(device, lookup, num_labels, merge, distances), class_columns)]
    if second_head:
        cil = second_head
        scores = _Scores(device, cil.lookup, cil.num_labels, None, cil.distances)
        heads.append((scores, slice(num_labels, None)))
    for inputs, classes in _bar(batches, "evaluate", show_progress):
        with autocast(device, amp):
            outputs = [member(inputs).float() for member in models]
        for scores, columns in heads:
            scores.add(_combined([output[:, columns] for output in outputs]), classes)
    # every head's meters in one read: one wait for the device per pass
    read = read_meters(
        {
            f"{i}/{name}": meter
            for i, (scores, _) in enumerate(heads)
            for name, meter in scores.meters.items()
        }
    )
    results = [
        scores.result({name: read[f"{i}/{name}"] for name in scores.meters})
        for i, (scores, _) in enumerate(heads)
    ]
    if second_head:
        results[0]["second_head"] = results[1]
    return results[0]


def _combined(outputs: list[torch.Tensor]) -> torch.Tensor:
    """One model's logits as they are; for an ensemble, the log of its members' mean softmax,
    which every reader of logits (softmax, cross-entropy, top-k) takes as they are."""
    if len(outputs) == 1:
        return outputs[0]
    mean = torch.stack([o.softmax(dim=1) for o in outputs]).mean(dim=0)
    return mean.clamp_min(torch.finfo(mean.dtype).tiny).log()


def _accuracies(per_label: list[Reading]) -> list[dict[str, float | int | None]]:
    return [{"images": int(label.count), "top1": label.percent} for label in per_label]
