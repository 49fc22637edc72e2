"""Batches: the epoch order, the batch augmentation, and the two sources agreeing."""

from __future__ import annotations

import torch

from trainer.batches import (
    LoaderBatches,
    ResidentBatches,
    augment,
    epoch_order,
    normalize,
    statistics,
)
from trainer.data import Split

CPU = torch.device("cpu")


def numbered_split(n: int, size: int = 8) -> Split:
    """Image i is filled with the value i, so a batch shows which images it holds."""
    images = torch.arange(n, dtype=torch.uint8)[:, None, None, None].expand(n, 3, size, size)
    return Split(images.contiguous(), torch.arange(n))


def test_ranks_share_an_epoch_without_overlap_and_epochs_differ():
    shares = [epoch_order(10, seed=0, epoch=1, rank=r, world_size=3) for r in range(3)]
    assert all(len(share) == 3 for share in shares)
    assert len(set(torch.cat(shares).tolist())) == 9
    assert not torch.equal(epoch_order(10, seed=0, epoch=1), epoch_order(10, seed=0, epoch=2))
    assert torch.equal(epoch_order(10, seed=0, epoch=2), epoch_order(10, seed=0, epoch=2))


def test_each_crop_is_a_window_of_the_zero_padded_image_maybe_mirrored():
    image = torch.arange(1, 65, dtype=torch.uint8).view(1, 1, 8, 8).repeat(200, 3, 1, 1)
    out = augment(image, 2, torch.Generator().manual_seed(0))
    assert out.shape == image.shape and out.dtype == torch.uint8
    padded = torch.nn.functional.pad(image[0], (2, 2, 2, 2))
    windows = {
        (dy, dx, mirrored): window.flip(2) if mirrored else window
        for dy in range(5)
        for dx in range(5)
        for mirrored in (False, True)
        for window in [padded[:, dy : dy + 8, dx : dx + 8]]
    }
    found = [next(k for k, w in windows.items() if torch.equal(crop, w)) for crop in out]
    # every offset and both orientations occur over 200 draws
    assert {k[:2] for k in found} == {(dy, dx) for dy in range(5) for dx in range(5)}
    assert {k[2] for k in found} == {False, True}


def test_padding_zero_only_flips():
    image = torch.arange(64, dtype=torch.uint8).view(1, 1, 8, 8).repeat(32, 3, 1, 1)
    out = augment(image, 0, torch.Generator().manual_seed(0))
    kept = [torch.equal(c, image[0]) for c in out]
    mirrored = [torch.equal(c, image[0].flip(2)) for c in out]
    assert all(k != m for k, m in zip(kept, mirrored, strict=True)) and any(kept) and any(mirrored)


def test_normalize_uses_the_dataset_statistics():
    batch = torch.full((2, 3, 4, 4), 255, dtype=torch.uint8)
    out = normalize(batch, *statistics(CPU), channels_last=True)
    assert out.dtype == torch.float32 and out.is_contiguous(memory_format=torch.channels_last)
    assert torch.allclose(
        out[0, :, 0, 0],
        torch.tensor([(1 - 0.4810) / 0.2146, (1 - 0.4574) / 0.2104, (1 - 0.4078) / 0.2138]),
    )


def test_resident_and_loader_sources_give_identical_batches():
    split = numbered_split(40)
    options = {"batch_size": 8, "device": CPU, "train": True, "padding": 2, "seed": 5}
    resident, loader = ResidentBatches(split, **options), LoaderBatches(split, workers=1, **options)
    for source in (resident, loader):
        source.set_epoch(3)
    pairs = list(zip(resident, loader, strict=True))
    assert len(pairs) == 5
    for (x1, y1), (x2, y2) in pairs:
        assert torch.equal(x1, x2) and torch.equal(y1, y2)


def test_training_drops_the_last_partial_batch_and_evaluation_keeps_everything():
    split = numbered_split(21)
    train = ResidentBatches(split, batch_size=8, device=CPU, train=True)
    assert len(train) == 2 and sum(len(y) for _, y in train) == 16
    shares = [
        LoaderBatches(split, batch_size=4, device=CPU, train=False, rank=r, world_size=2)
        for r in range(2)
    ]
    seen = sorted(t for source in shares for _, y in source for t in y.tolist())
    assert seen == list(range(21))
    assert [len(s) for s in shares] == [3, 3]


def test_evaluation_batches_are_not_augmented():
    split = numbered_split(6)
    ((images, targets),) = ResidentBatches(split, batch_size=6, device=CPU, train=False)
    assert torch.equal(images, normalize(split.images, *statistics(CPU), channels_last=False))
    assert targets.tolist() == list(range(6))


def test_ranks_draw_different_augmentations():
    # every image the same: the crops and flips alone tell the ranks' batches apart
    image = torch.arange(64, dtype=torch.uint8).view(1, 1, 8, 8).expand(64, 3, 8, 8)
    split = Split(image.contiguous(), torch.zeros(64, dtype=torch.int64))
    options = {"batch_size": 16, "device": CPU, "train": True, "padding": 2, "world_size": 2}
    ranks = [ResidentBatches(split, rank=r, **options) for r in range(2)]
    for source in ranks:
        source.set_epoch(1)
    (first, _), (second, _) = (next(iter(source)) for source in ranks)
    assert not torch.equal(first, second)
