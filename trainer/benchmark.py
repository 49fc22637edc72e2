"""Training speed of the trainer's own path on random data of Downsampled ImageNet's shape.

    python trainer/benchmark.py --device cpu -b 64 --steps 5

Times `--repeats` epochs of `--steps` training steps, after an untimed one of `--warmup-steps`,
through the same batches (uint8 data on the device, crop and flip per batch), model, schedule and
`train_one_epoch` as a real run, and prints the median images/s and the seconds an ImageNet32-sized
epoch (1,281,167 images) would take. `FastPath` is also what benchmarks/train_throughput.py times
as "ours" beside the original training loop and the model's own limit.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

if __package__ in (None, ""):
    # As in main.py: the repository root, not trainer/, first on sys.path.
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import torch

from trainer.batches import ResidentBatches
from trainer.config import ARCHS, Config
from trainer.data import Split
from trainer.distributed import resolve_device
from trainer.engine import train_one_epoch
from trainer.errors import USER_ERRORS
from trainer.models import build_model
from trainer.schedules import make_optimizer, make_scheduler

IMAGENET32_TRAIN_IMAGES = 1_281_167
IMAGENET_CLASSES = 1000


def random_split(count: int, image_size: int = 32, *, seed: int = 0) -> Split:
    """`count` random uint8 images with random targets among 1,000 classes: the data's shape, not
    its content, sets the speed of a training step."""
    generator = torch.Generator().manual_seed(seed)
    images = torch.randint(
        0, 256, (count, 3, image_size, image_size), dtype=torch.uint8, generator=generator
    )
    targets = torch.randint(0, IMAGENET_CLASSES, (count,), generator=generator)
    return Split(images, targets)


class FastPath:
    """A model, optimiser and schedule set up as `run` sets them up for a fresh run with the
    paper's settings: cuDNN autotuning, channels_last and bf16 autocast on CUDA (never on a CPU),
    optionally `torch.compile`, and batches from the data held on the device."""

    def __init__(
        self,
        *,
        device: torch.device,
        arch: str = "resnet18",
        width: int = 64,
        image_size: int = 32,
        batch_size: int = 256,
        amp: bool = True,
        channels_last: bool = True,
        compile_model: bool = False,
    ) -> None:
        cuda = device.type == "cuda"
        torch.backends.cudnn.benchmark = cuda
        torch.manual_seed(0)
        self.device, self.image_size, self.batch_size = device, image_size, batch_size
        self.amp, self.channels_last = amp and cuda, channels_last and cuda
        self.model = build_model(arch, IMAGENET_CLASSES, width).to(device)
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        if compile_model:
            self.model = torch.compile(self.model)
        self.optimizer = make_optimizer(self.model, Config)
        self.scheduler = make_scheduler(
            self.optimizer,
            Config.schedule,
            epochs=Config.epochs,
            steps_per_epoch=IMAGENET32_TRAIN_IMAGES // batch_size,
        )

    def batches(self, steps: int, *, seed: int = 0) -> ResidentBatches:
        """An epoch of `steps` training batches of random images held on the device."""
        return ResidentBatches(
            random_split(steps * self.batch_size, self.image_size, seed=seed),
            batch_size=self.batch_size,
            device=self.device,
            train=True,
            padding=Config.crop_padding,
            channels_last=self.channels_last,
        )

    def train(self, batches: ResidentBatches, epoch: int = 1) -> float:
        """Images/s of one epoch over `batches`, timed by `train_one_epoch` itself."""
        batches.set_epoch(epoch)
        result = train_one_epoch(
            self.model,
            batches,
            self.optimizer,
            self.scheduler,
            device=self.device,
            amp=self.amp,
            show_progress=False,
        )
        return result["images_per_s"]

    def measure(self, *, steps: int, warmup_steps: int, repeats: int) -> list[float]:
        """Images/s of each of `repeats` epochs of `steps` steps, after an untimed epoch of
        `warmup_steps` that takes compilation, cuDNN's algorithm search and the allocator's
        first growth out of the figures."""
        self.train(self.batches(warmup_steps, seed=1))
        timed = self.batches(steps, seed=2)
        return [self.train(timed, epoch) for epoch in range(1, repeats + 1)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python trainer/benchmark.py",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--arch", choices=ARCHS, default="resnet18", help="network")
    parser.add_argument("--width", type=int, default=64, help="channels of the first stage")
    parser.add_argument("--image-size", type=int, default=32, help="image side in pixels")
    parser.add_argument("-b", "--batch-size", type=int, default=64, help="images per step")
    parser.add_argument("--steps", type=int, default=5, help="timed training steps per repeat")
    parser.add_argument("--warmup-steps", type=int, default=2, help="untimed steps first")
    parser.add_argument("--repeats", type=int, default=3, help="timed epochs; the median counts")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument(
        "--no-amp", action="store_true", help="no bf16 autocast on CUDA (never used on a CPU)"
    )
    parser.add_argument("--compile", action="store_true", help="torch.compile the model")
    args = parser.parse_args(argv)
    try:
        device = resolve_device(args.device)
    except USER_ERRORS as error:  # --device cuda without a GPU
        print(f"error: {error}", file=sys.stderr)
        return 2
    path = FastPath(
        device=device,
        arch=args.arch,
        width=args.width,
        image_size=args.image_size,
        batch_size=args.batch_size,
        amp=not args.no_amp,
        compile_model=args.compile,
    )
    speed = statistics.median(
        path.measure(steps=args.steps, warmup_steps=args.warmup_steps, repeats=args.repeats)
    )
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(
        f"{args.arch} (width {args.width}), {args.image_size} px, batch {args.batch_size} on "
        f"{name} ({torch.get_num_threads()} threads): {speed:.1f} images/s; an "
        f"ImageNet32 epoch ({IMAGENET32_TRAIN_IMAGES:,} images) would take "
        f"{IMAGENET32_TRAIN_IMAGES / speed:,.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
