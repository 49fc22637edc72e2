"""Batches for the model, augmented (random crop and flip) a whole batch at a time on the device.

Two sources serve the same batches from a `Split`'s uint8 tensors:

- `ResidentBatches` keeps the split on the device, as airbench does: an epoch is one `randperm`
  and slicing, with no workers and no Python per image. ImageNet32's training set is 3.9 GB, so
  this is the default on a GPU with room for it, and on a CPU (where the data is already in RAM).
- `LoaderBatches` keeps the split in host memory and gathers batches with DataLoader workers
  (pinned memory on CUDA): the fallback when the split does not fit on the GPU.

Both take the epoch's order from a generator seeded by (seed, epoch), the same on every DDP rank,
which then takes its own share; the augmentation's generator is seeded by (seed, epoch, rank), so
each rank crops and flips its images with its own draws. A run's batches depend on neither the
source nor on having been resumed.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from trainer.data import Split

# ImageNet32 training-set statistics (0-1 scale), as the paper's trainer normalised with.
MEAN = (0.4810, 0.4574, 0.4078)
STD = (0.2146, 0.2104, 0.2138)


def _epoch_seed(seed: int, epoch: int, stream: int, rank: int = 0) -> int:
    # The first process draws what a single process draws; the others are moved far away by an
    # odd constant, within the 32 bits of a seed that torch's CPU generator keeps.
    return ((seed * 1_000_003 + epoch) * 2 + stream + rank * 2_654_435_761) % 2**32


def epoch_order(
    n: int, *, seed: int, epoch: int, rank: int = 0, world_size: int = 1
) -> torch.Tensor:
    """This process's share of the epoch's shuffled indices; every rank draws the same permutation
    and takes every world_size-th index, after trimming so that all shares are the same length."""
    generator = torch.Generator().manual_seed(_epoch_seed(seed, epoch, 0))
    order = torch.randperm(n, generator=generator)
    return order[: n - n % world_size][rank::world_size]


def augment(images: torch.Tensor, padding: int, generator: torch.Generator) -> torch.Tensor:
    """Random crop after zero padding of `padding` pixels, then a random horizontal flip.

    Works on a uint8 batch B x C x S x S on any device: crop and flip are one gather, as the
    flip only reverses the crop's columns.
    """
    batch, channels, size, _ = images.shape
    device = images.device
    if padding:
        images = torch.nn.functional.pad(images, (padding,) * 4)
        offsets = torch.randint(0, 2 * padding + 1, (2, batch), device=device, generator=generator)
    else:
        offsets = torch.zeros(2, batch, dtype=torch.int64, device=device)
    flip = torch.rand(batch, device=device, generator=generator) < 0.5
    span = torch.arange(size, device=device)
    rows = (offsets[0, :, None] + span)[:, None, :, None]
    cols = (offsets[1, :, None] + torch.where(flip[:, None], span.flip(0), span))[:, None, None, :]
    return images[
        torch.arange(batch, device=device)[:, None, None, None],
        torch.arange(channels, device=device)[None, :, None, None],
        rows,
        cols,
    ]


def statistics(device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """The scale and shift that standardise a 0-255 batch with MEAN and STD, as 1 x 3 x 1 x 1
    tensors on `device`, made once per source: building them per batch would copy from the
    host, and wait for the GPU, at every step."""
    mean = torch.tensor(MEAN, dtype=torch.float64).view(1, 3, 1, 1)
    std = torch.tensor(STD, dtype=torch.float64).view(1, 3, 1, 1)
    scale, shift = 1 / (255 * std), mean / std
    return scale.to(device, torch.float32), shift.to(device, torch.float32)


def normalize(
    images: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor, channels_last: bool
) -> torch.Tensor:
    """uint8 batch -> float batch standardised with the dataset statistics, in one pass
    after the conversion: (x / 255 - mean) / std = x * scale - shift."""
    out = images.float().mul_(scale).sub_(shift)
    # Last: broadcasting the statistics over a channels_last tensor was twice as slow.
    return out.contiguous(memory_format=torch.channels_last) if channels_last else out


class _BatchSource:
    """What both sources share: sharding, epoch seeding and the device-side transform."""

    def __init__(
        self,
        split: Split,
        *,
        batch_size: int,
        device: torch.device,
        train: bool,
        padding: int = 4,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        channels_last: bool = False,
    ) -> None:
        self.size = len(split)
        self.batch_size, self.device, self.train = batch_size, device, train
        self.padding, self.seed, self.channels_last = padding, seed, channels_last
        self.rank, self.world_size = rank, world_size
        self.scale, self.shift = statistics(device)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        if self.train:  # whole batches only: a last batch of one image breaks batch norm
            return (self.size // self.world_size) // self.batch_size
        share = len(range(self.rank, self.size, self.world_size))
        return (share + self.batch_size - 1) // self.batch_size

    def indices(self) -> torch.Tensor:
        if self.train:
            order = epoch_order(
                self.size,
                seed=self.seed,
                epoch=self.epoch,
                rank=self.rank,
                world_size=self.world_size,
            )
            return order[: len(self) * self.batch_size]
        return torch.arange(self.rank, self.size, self.world_size)

    def prepare(
        self, images: torch.Tensor, targets: torch.Tensor, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        images = images.to(self.device, non_blocking=True)
        targets = targets.to(self.device, non_blocking=True)
        if self.train:
            images = augment(images, self.padding, generator)
        return normalize(images, self.scale, self.shift, self.channels_last), targets

    def generator(self) -> torch.Generator:
        seed = _epoch_seed(self.seed, self.epoch, 1, self.rank)
        return torch.Generator(device=self.device).manual_seed(seed)


class ResidentBatches(_BatchSource):
    """The split held on the device; batches are slices of it."""

    def __init__(self, split: Split, **options: object) -> None:
        super().__init__(split, **options)
        self.images = split.images.to(self.device)
        self.targets = split.targets.to(self.device)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order, generator = self.indices().to(self.device), self.generator()
        for batch in order.split(self.batch_size):
            yield self.prepare(self.images[batch], self.targets[batch], generator)


class _Rows(torch.utils.data.Dataset):
    """Indexed by a whole batch of indices at once, so a worker gathers a batch in one slice."""

    def __init__(self, split: Split) -> None:
        self.split = split

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, batch: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        index = torch.as_tensor(batch)
        return self.split.images[index], self.split.targets[index]


class LoaderBatches(_BatchSource):
    """The split in host memory, gathered by DataLoader workers and augmented on the device."""

    def __init__(self, split: Split, *, workers: int = 0, **options: object) -> None:
        super().__init__(split, **options)
        self.rows, self.workers = _Rows(split), workers

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        loader = torch.utils.data.DataLoader(
            self.rows,
            sampler=[batch.tolist() for batch in self.indices().split(self.batch_size)],
            batch_size=None,
            num_workers=self.workers,
            pin_memory=self.device.type == "cuda",
        )
        generator = self.generator()
        for images, targets in loader:
            yield self.prepare(images, targets, generator)


def fits_on_device(nbytes: int, device: torch.device) -> bool:
    """Whether a dataset of `nbytes` can live on `device` and leave room for training.

    Half the free memory is the budget: the rest is for the model, its activations at batch 256,
    and one padded batch.
    """
    if device.type != "cuda":
        return True
    free, _ = torch.cuda.mem_get_info(device)
    return nbytes < free // 2


def make_batches(
    split: Split, *, on_device: bool, workers: int, **options: object
) -> ResidentBatches | LoaderBatches:
    if on_device:
        return ResidentBatches(split, **options)
    return LoaderBatches(split, workers=workers, **options)
