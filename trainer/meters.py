"""Running averages of a pass over the data, kept on the device: pytorch/examples' AverageMeter
without its `.item()` at every step (a wait for the GPU).

A meter holds a sum and how many things it is over (images; mistakes, for the mistake
severity) as float64 tensors on the device: one number, or one per label. Updating queues device
work and waits for none; `read_meters` sums the meters over the processes (DDP) and copies them
to the host together, one wait for the device per pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.distributed as dist


class AverageMeter:
    """A running sum and its count on `device`: one number, or `size` of them (one per label)."""

    def __init__(self, device: torch.device, size: int | None = None) -> None:
        self.sum = torch.zeros(() if size is None else (size,), dtype=torch.float64, device=device)
        self.count = torch.zeros_like(self.sum)

    def update(self, total: torch.Tensor | float, count: torch.Tensor | float) -> None:
        """Add `total`, the sum of `count` values (a batch's summed loss and its images)."""
        self.sum += total
        self.count += count

    def update_per_label(self, labels: torch.Tensor, values: torch.Tensor) -> None:
        """A meter of one entry per label: each image's value goes to its label's sum, and one to
        its label's count."""
        # index_add_ rather than bincount: bincount sizes its output on the host, a wait for the
        # GPU at every batch.
        self.sum.index_add_(0, labels, values.to(self.sum.dtype))
        self.count.index_add_(0, labels, torch.ones_like(labels, dtype=self.count.dtype))

    def average(self) -> torch.Tensor:
        """This process's average so far, still on the device (reading it waits for the GPU)."""
        return self.sum / self.count.clamp_min(1)


@dataclass(frozen=True)
class Reading:
    """A meter as read on the host: its sum and count over every process."""

    sum: float
    count: float

    @property
    def average(self) -> float | None:
        """None where the meter counted nothing (the severity of a model that made no mistake)."""
        return self.sum / self.count if self.count else None

    @property
    def percent(self) -> float | None:
        average = self.average
        return None if average is None else 100 * average


def read_meters(meters: Mapping[str, AverageMeter]) -> dict[str, Reading | list[Reading]]:
    """Every meter summed over the processes and read in one copy to the host: a meter of one
    number as a Reading, a meter per label as a list of them.

    Every process must pass the same meters (made before the first batch, so that a process
    without a batch joins the sum too)."""
    columns = [torch.stack([meter.sum, meter.count]).reshape(2, -1) for meter in meters.values()]
    both = torch.cat(columns, dim=1)
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(both)
    sums, counts = both.tolist()
    readings: dict[str, Reading | list[Reading]] = {}
    start = 0
    for name, meter in meters.items():
        stop = start + meter.sum.numel()
        entries = [Reading(s, c) for s, c in zip(sums[start:stop], counts[start:stop], strict=True)]
        readings[name] = entries if meter.sum.dim() else entries[0]
        start = stop
    return readings
