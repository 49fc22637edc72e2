"""One epoch of training, and evaluation, each returning a dict of plain numbers.

Running sums stay on the device and are read (`.item()`, a GPU sync) only when the progress bar
is updated and at the end; under DDP they are summed over the processes before being read.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

TOPK = (1, 5)


@dataclass(frozen=True)
class Merge:
    """A CIL to score a class-level model on: class probabilities summed over each label."""

    matrix: torch.Tensor  # classes x labels, one-hot rows (LabelSpace.merge_matrix)
    lookup: torch.Tensor  # class index -> label index (LabelSpace.lookup)


def autocast(device: torch.device, enabled: bool) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA; nothing elsewhere (CPU bf16 is slow and changes the numbers)."""
    if enabled and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def topk_correct(scores: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """How many rows have their target among the top-1 and top-5 scores (k capped at the width)."""
    top = scores.topk(min(max(TOPK), scores.shape[1]), dim=1).indices
    hits = top == targets[:, None]
    return torch.stack([hits[:, :k].any(dim=1).sum() for k in TOPK])


def merged_probabilities(logits: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    """Label probabilities from class logits: each label's share is the sum of the softmax over
    its member classes, the fair way to score a fine model on coarse labels."""
    return logits.float().softmax(dim=1) @ matrix


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


def _sum_over_processes(tensor: torch.Tensor) -> torch.Tensor:
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(tensor)
    return tensor


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
) -> dict[str, float]:
    """Train over `batches` (inputs, label targets) once; step the schedule every step.

    Returns loss, top1, top5 (percent, on the augmented training batches), lr (at the start),
    images, seconds and images_per_s, summed over all processes.
    """
    model.train()
    lr = optimizer.param_groups[0]["lr"]
    sums = torch.zeros(4, dtype=torch.float64, device=device)  # loss*n, top1, top5, n
    watch = Stopwatch(device)
    bar = _bar(batches, desc, show_progress)
    for step, (inputs, targets) in enumerate(bar):
        with autocast(device, amp):
            logits = model(inputs)
            loss = F.cross_entropy(logits, targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        with torch.no_grad():
            sums[0] += loss.detach() * len(targets)
            sums[1:3] += topk_correct(logits.detach(), targets)
            sums[3] += len(targets)
        if step % print_freq == 0 and show_progress:
            loss_avg, top1 = (sums[0] / sums[3]).item(), (100 * sums[1] / sums[3]).item()
            if bar.disable:  # no terminal (a log file, a batch job): a line instead of the bar
                print(
                    f"{desc} [{step + 1}/{len(bar)}]  loss {loss_avg:.3f}  top1 {top1:.1f}",
                    flush=True,
                )
            else:
                bar.set_postfix(loss=f"{loss_avg:.3f}", top1=f"{top1:.1f}")
    seconds = watch.seconds()
    loss_sum, top1, top5, images = _sum_over_processes(sums).tolist()
    seconds = max(seconds, 1e-9)
    return {
        "loss": loss_sum / max(images, 1),
        "top1": 100 * top1 / max(images, 1),
        "top5": 100 * top5 / max(images, 1),
        "lr": lr,
        "images": int(images),
        "seconds": seconds,
        "images_per_s": images / seconds,
    }


@torch.no_grad()
def evaluate(
    model: nn.Module,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    *,
    lookup: torch.Tensor,
    num_labels: int,
    merge: Merge | None = None,
    device: torch.device,
    amp: bool = False,
    show_progress: bool = True,
) -> dict[str, object]:
    """Score the model on `batches` of (inputs, class targets).

    `lookup` maps class targets to the trained labels. Returns loss, top1, top5 (percent),
    images, and per_label: for each label its images and top-1 accuracy in percent (None for
    a label without images). With `merge`, also merged_top1, merged_top5 and merged_per_label
    on the CIL's labels.
    """
    model.eval()
    width = merge.matrix.shape[1] if merge else 0
    sums = torch.zeros(4 + 2, dtype=torch.float64, device=device)  # loss*n, top1, top5, n, merged
    per_label = torch.zeros(2, num_labels, dtype=torch.float64, device=device)  # correct, total
    merged_per_label = torch.zeros(2, width, dtype=torch.float64, device=device)
    for inputs, classes in _bar(batches, "evaluate", show_progress):
        targets = lookup[classes]
        with autocast(device, amp):
            logits = model(inputs)
        logits = logits.float()
        sums[0] += F.cross_entropy(logits, targets, reduction="sum")
        sums[1:3] += topk_correct(logits, targets)
        sums[3] += len(targets)
        _count_per_label(per_label, logits.argmax(dim=1), targets)
        if merge:
            scores, merged_targets = (
                merged_probabilities(logits, merge.matrix),
                merge.lookup[classes],
            )
            sums[4:6] += topk_correct(scores, merged_targets)
            _count_per_label(merged_per_label, scores.argmax(dim=1), merged_targets)
    sums, per_label = _sum_over_processes(sums), _sum_over_processes(per_label)
    loss_sum, top1, top5, images, merged_top1, merged_top5 = sums.tolist()
    n = max(images, 1)
    result: dict[str, object] = {
        "loss": loss_sum / n,
        "top1": 100 * top1 / n,
        "top5": 100 * top5 / n,
        "images": int(images),
        "per_label": _accuracies(per_label),
    }
    if merge:
        result["merged_top1"] = 100 * merged_top1 / n
        result["merged_top5"] = 100 * merged_top5 / n
        result["merged_per_label"] = _accuracies(_sum_over_processes(merged_per_label))
    return result


def _count_per_label(
    counts: torch.Tensor, predictions: torch.Tensor, targets: torch.Tensor
) -> None:
    # index_add_ rather than bincount of the hits: both of those need their size on the host,
    # a wait for the GPU at every batch.
    counts[0].index_add_(0, targets, (predictions == targets).to(counts.dtype))
    counts[1].index_add_(0, targets, torch.ones_like(targets, dtype=counts.dtype))


def _accuracies(counts: torch.Tensor) -> list[dict[str, float | int | None]]:
    correct, total = counts.tolist()
    return [
        {"images": int(t), "top1": 100 * c / t if t else None}
        for c, t in zip(correct, total, strict=True)
    ]
