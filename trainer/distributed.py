"""Where a run executes: one process on a CPU or GPU, or one of several started by `torchrun`.

torchrun sets RANK, WORLD_SIZE and LOCAL_RANK; the process group then initialises from those
(`env://`), with NCCL between GPUs and gloo between CPU processes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


class DeviceError(ValueError):
    """A device that this machine does not have."""


@dataclass(frozen=True)
class Placement:
    device: torch.device
    rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        """The process that prints, writes records and saves checkpoints."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


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
    return Placement(device, dist.get_rank(), dist.get_world_size())


def stop(placement: Placement) -> None:
    if placement.distributed and dist.is_initialized():
        dist.destroy_process_group()
