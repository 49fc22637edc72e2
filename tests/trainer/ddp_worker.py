"""One process of the two-process DDP test (started by torchrun from test_ddp.py): it reads the
data as a run does, touches every image (as an epoch does), and writes what the test checks:
its PSS before and after (from /proc/self/smaps_rollup) and its first augmentation draws."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[2])  # the repository root, as main.py does

import torch

from tests.trainer.synthetic import tiny_config
from trainer import distributed
from trainer.batches import augment, make_batches
from trainer.run import read_data


def pss_bytes() -> int:
    for line in Path("/proc/self/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no Pss line in /proc/self/smaps_rollup")


def main(data_dir: Path, out: Path) -> None:
    placement = distributed.start("cpu")
    config = tiny_config(data_dir, None, original_labels=True)
    before = pss_bytes()
    dataset = read_data(config, placement)
    checksum = int(dataset.train.images.sum()) + int(dataset.val.images.sum())  # every page
    torch.distributed.barrier()  # every rank holds the data now
    during = pss_bytes()
    source = make_batches(
        dataset.train,
        train=True,
        batch_size=4,
        device=placement.device,
        padding=4,
        seed=config.seed,
        rank=placement.rank,
        world_size=placement.world_size,
        on_device=True,
        workers=0,
    )
    source.set_epoch(1)
    same_image = dataset.train.images[:1].expand(64, -1, -1, -1)
    draws = augment(same_image, 4, source.generator())
    torch.distributed.barrier()  # no rank measures while another still reads
    (out / f"rank{placement.rank}.json").write_text(
        json.dumps(
            {
                "before": before,
                "during": during,
                "checksum": checksum,
                "data_bytes": dataset.train.images.nbytes + dataset.val.images.nbytes,
                "draws": draws.flatten(1).sum(dim=1).tolist(),
            }
        )
    )
    distributed.stop(placement)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
