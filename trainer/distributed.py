"""Where a run executes: one process on a CPU or GPU, or one of several started by `torchrun`.

torchrun sets RANK, WORLD_SIZE and LOCAL_RANK; the process group then initialises from those
(`env://`), with NCCL between GPUs and gloo between CPU processes.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist
from torch import nn

from trainer.errors import TrainerError

HOST_WAIT = timedelta(hours=2)  # reading ImageNet64 from a slow disk, with room to spare


class DeviceError(TrainerError):
    """A device that this machine does not have."""


@dataclass(frozen=True)
class Placement:
    device: torch.device
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0  # rank among the processes of this machine
    host_group: object = None  # a gloo group for waits on the host (see wait_all)

    @property
    def is_main(self) -> bool:
        """The process that prints, writes records and saves checkpoints."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def say(self, text: str) -> None:
        """Print, from the main process only: one line per run, not one per process."""
        if self.is_main:
            print(text)

    def wait_all(self) -> None:
        """Return once every process has called this; through gloo with a long timeout, as one
        process may read ImageNet for many minutes while the others wait."""
        if self.distributed:
            dist.barrier(group=self.host_group)


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """`auto`: CUDA when there is a GPU, else the CPU; under torchrun each process takes the GPU
    of its local rank."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(f"--device {name} was asked for, but torch sees no GPU")
        if device.index is None:
            device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    return device


def start(device_name: str) -> Placement:
    """This process's device and rank, joining the process group when torchrun started it."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = resolve_device(device_name, local_rank)
    if world_size == 1:
        return Placement(device)
    backend = "nccl" if device.type == "cuda" else "gloo"
    init_options = {"device_id": device} if device.type == "cuda" else {}
    dist.init_process_group(backend, init_method="env://", **init_options)
    host_group = dist.new_group(backend="gloo", timeout=HOST_WAIT)
    return Placement(device, dist.get_rank(), dist.get_world_size(), local_rank, host_group)


def share_buffers(module: nn.Module, placement: Placement) -> None:
    """Give every process rank 0's buffers (BatchNorm's running statistics), before evaluating.

    DDP copies rank 0's buffers to the others before each training forward, but then every rank
    updates them with its own batch: after an epoch each holds other statistics. Evaluated so,
    each rank would score its shard of the validation set with another model than the one rank 0
    saves, and the recorded row would be no checkpoint's score.
    """
    if placement.distributed:
        for buffer in module.buffers():
            dist.broadcast(buffer, src=0)


def sync_batchnorm(model: nn.Module, placement: Placement) -> nn.Module:
    """The model with SyncBatchNorm layers: BatchNorm's batch statistics over the whole batch of
    all processes rather than each process's share. One process sees the whole batch already:
    the model is returned unchanged."""
    if not placement.distributed:
        return model
    if placement.device.type != "cuda":
        raise DeviceError(
            "--sync-bn needs GPUs: torch's SyncBatchNorm does not run on CPU processes; "
            "leave it out on CPUs"
        )
    return nn.SyncBatchNorm.convert_sync_batchnorm(model)


def stop(placement: Placement) -> None:
    if placement.distributed and dist.is_initialized():
        dist.destroy_process_group()


@contextlib.contextmanager
def placed(device_name: str) -> Iterator[Placement]:
    """`start`, and `stop` however the block ends."""
    placement = start(device_name)
    try:
        yield placement
    finally:
        stop(placement)
