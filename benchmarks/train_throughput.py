"""Training images/s of ResNet-18 at 32 px: the original loop, with and without bf16 and
channels_last, the trainer's path, and the bound.

    python3 benchmarks/train_throughput.py --out benchmarks/results/<gpu>-<date>.txt
    python3 benchmarks/train_throughput.py --device cpu --images 64 -b 16 --steps 2 \\
        --warmup 1 --width 8 -j 1      # a smoke run on a CPU

In one process, on random data shaped like ImageNet32 (32x32 RGB, 1,000 classes), it times:

- baseline: the original trainer's loop, re-created: PNG files on disk (written here, into a
  temporary folder), torchvision's ImageFolder and a DataLoader with `-j` workers decoding them
  through ToTensor, Normalize and a random flip, then per batch a copy to the device, an fp32
  step of SGD and a read of the loss (the running average such loops print; a sync per step).
  One loader serves every stretch of both baseline rows, so its workers start once and the files
  come from the page cache: the baseline's best case, which keeps ours/baseline conservative.
- baseline+amp: the same loop with ours' precision and layout (bf16 autocast and channels_last
  on CUDA; on a CPU, where ours uses neither, the same as the baseline), so that ours/baseline+amp
  is the gain of the data path alone and baseline+amp/baseline that of precision.
- ours: `trainer.benchmark.FastPath`, the trainer's own path: uint8 data held on the device,
  crop and flip on the device per batch, bf16 autocast and channels_last on CUDA, `--compile`
  optionally, and `train_one_epoch` with its metrics and schedule.
- bound: forward, backward and SGD step of ours' model on one batch already on the device,
  repeated: what the model alone allows, so ours/bound is the share that the data path, the
  metrics and the schedule leave.

After `--warmup` untimed steps of each (compilation, cuDNN's algorithm search, the workers'
start), the rows are timed interleaved: `--repeats` rounds (at least 5), each timing `--steps`
steps of every row in turn (in reverse order every other round), with CUDA events on a GPU. A burst of other load thus hits every row
alike, and each ratio is the median of the rounds' ratios, which compare stretches run side by
side. The report gives images/s (median, and the range over the rounds), the seconds an
ImageNet32 epoch (1,281,167 images) would take, the peak GPU memory while each ran (the other
rows' models included), and the ratios against the targets of issue 7.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

if __package__ in (None, ""):
    # Run as a file: the repository root, not benchmarks/, first on sys.path.
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torchvision import datasets, transforms

from trainer.batches import MEAN, STD
from trainer.benchmark import IMAGENET32_TRAIN_IMAGES, IMAGENET_CLASSES, FastPath
from trainer.config import Config
from trainer.distributed import resolve_device
from trainer.engine import Stopwatch, autocast
from trainer.models import build_model

IMAGE_SIZE = 32
# What ImageNet32's training set adds to ours' memory when held on the GPU as uint8.
IMAGENET32_TRAIN_BYTES = IMAGENET32_TRAIN_IMAGES * 3 * IMAGE_SIZE * IMAGE_SIZE
# Issue 7's targets.
MIN_SPEEDUP, MIN_SHARE_OF_BOUND, MAX_EPOCH_SECONDS = 10.0, 0.8, 30.0


@dataclass(frozen=True)
class Settings:
    device: torch.device
    width: int
    batch_size: int
    images: int  # PNG files for the baseline
    workers: int  # the baseline's DataLoader workers
    steps: int  # timed steps per repeat
    repeats: int
    warmup: int  # untimed steps before the first repeat
    compile_model: bool


@dataclass(frozen=True)
class Figures:
    rates: list[float]  # images/s of each repeat
    peak_bytes: int | None  # peak GPU memory allocated; None on a CPU

    @property
    def median(self) -> float:
        return statistics.median(self.rates)


def write_pngs(root: Path, count: int, *, seed: int = 0) -> None:
    """`count` random 32x32 RGB PNG files in ImageFolder's layout, spread over up to 1,000 class
    folders (ImageFolder refuses a class folder without images)."""
    classes = min(count, IMAGENET_CLASSES)
    folders = [root / f"class{c:04d}" for c in range(classes)]
    for folder in folders:
        folder.mkdir(parents=True)
    pixels = np.random.default_rng(seed).integers(
        0, 256, (count, IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8
    )
    for i, image in enumerate(pixels):
        Image.fromarray(image).save(folders[i % classes] / f"{i:06d}.png")


def images_per_s(settings: Settings, step: Callable[[], None]) -> float:
    """Images/s of `settings.steps` calls of `step`, which trains on one batch; the device is
    idle first, so the timing holds only this stretch's work."""
    if settings.device.type == "cuda":
        torch.cuda.synchronize(settings.device)
    watch = Stopwatch(settings.device)
    for _ in range(settings.steps):
        step()
    return settings.steps * settings.batch_size / watch.seconds()


def png_batches(settings: Settings, png_dir: Path, stretches: int) -> Iterator:
    """Batches of the PNG files in `png_dir` through ImageFolder and one DataLoader, as many as
    `stretches` stretches of steps and the warm-ups of both baseline rows need."""
    dataset = datasets.ImageFolder(
        str(png_dir),
        transforms.Compose(
            [
                transforms.ToTensor(),
                transforms.Normalize(MEAN, STD),
                transforms.RandomHorizontalFlip(),
            ]
        ),
    )
    batches_needed = 2 * settings.warmup + stretches * settings.steps
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_size=settings.batch_size,
        # as many shuffled passes over the files as the timing needs, in one loader
        sampler=torch.utils.data.RandomSampler(
            dataset, num_samples=batches_needed * settings.batch_size
        ),
        num_workers=settings.workers,
        pin_memory=settings.device.type == "cuda",
        drop_last=True,
    )
    return iter(loader)


def baseline_step(settings: Settings, batches: Iterator, *, fast: bool) -> Callable[[], None]:
    """One step of the original loop (see the module's docstring); `fast` adds ours' bf16
    autocast and channels_last, which only CUDA uses."""
    device = settings.device
    fast = fast and device.type == "cuda"
    torch.manual_seed(0)
    model = build_model("resnet18", IMAGENET_CLASSES, settings.width).to(device)
    if fast:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(
        model.parameters(), lr=Config.lr, momentum=Config.momentum, weight_decay=Config.weight_decay
    )
    model.train()

    def step() -> None:
        images, targets = next(batches)
        images = images.to(device, non_blocking=True)
        targets = targets.to(device, non_blocking=True)
        if fast:
            images = images.contiguous(memory_format=torch.channels_last)
        with autocast(device, fast):
            loss = F.cross_entropy(model(images), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        loss.item()  # the running average of the loss: a sync per step

    return step


def bound_step(path: FastPath) -> Callable[[], None]:
    """Ours' model, optimiser and precision (already warm, and compiled once) on one batch that
    the trainer's path has put on the device, with nothing else per step."""
    inputs, targets = next(iter(path.batches(1, seed=3)))

    def step() -> None:
        with autocast(path.device, path.amp):
            loss = F.cross_entropy(path.model(inputs), targets)
        path.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        path.optimizer.step()

    return step


def measure_all(settings: Settings, say: Callable[[str], None]) -> dict[str, Figures]:
    # One setting for all rows, as pytorch/examples' ImageNet loop and the trainer both do.
    torch.backends.cudnn.benchmark = settings.device.type == "cuda"
    cuda = settings.device.type == "cuda"
    with tempfile.TemporaryDirectory(prefix="train_throughput-") as folder:
        say(f"writing {settings.images:,} PNG files")
        write_pngs(Path(folder), settings.images)
        batches = png_batches(settings, Path(folder), stretches=2 * settings.repeats)
        say(
            f"setting up: baseline (ImageFolder + DataLoader, workers: {settings.workers}), "
            "baseline+amp, ours" + (" (compiling)" if settings.compile_model else "") + ", bound"
        )
        steps = {
            "baseline": baseline_step(settings, batches, fast=False),
            "baseline+amp": baseline_step(settings, batches, fast=True),
        }
        path = FastPath(
            device=settings.device,
            width=settings.width,
            image_size=IMAGE_SIZE,
            batch_size=settings.batch_size,
            compile_model=settings.compile_model,
        )
        steps["bound"] = bound_step(path)
        for name in ("baseline", "baseline+amp", "bound"):
            for _ in range(settings.warmup):
                steps[name]()
        path.train(path.batches(settings.warmup, seed=1))
        timed = path.batches(settings.steps, seed=2)
        stretches: dict[str, Callable[[int], float]] = {
            "baseline": lambda _: images_per_s(settings, steps["baseline"]),
            "baseline+amp": lambda _: images_per_s(settings, steps["baseline+amp"]),
            "ours": lambda round_: path.train(timed, round_),
            "bound": lambda _: images_per_s(settings, steps["bound"]),
        }
        rates: dict[str, list[float]] = {name: [] for name in stretches}
        peaks: dict[str, int] = dict.fromkeys(stretches, 0)
        for round_ in range(1, settings.repeats + 1):
            say(f"round {round_}/{settings.repeats}")
            # ABCD, then DCBA: a load that grows or fades over a round favours no row
            order = list(stretches) if round_ % 2 else list(reversed(stretches))
            for name in order:
                stretch = stretches[name]
                if cuda:
                    torch.cuda.reset_peak_memory_stats(settings.device)
                rates[name].append(stretch(round_))
                if cuda:
                    peaks[name] = max(peaks[name], torch.cuda.max_memory_allocated(settings.device))
    return {name: Figures(rates[name], peaks[name] if cuda else None) for name in rates}


def ratio(figures: dict[str, Figures], numerator: str, denominator: str) -> float:
    """The median over the rounds of the two rows' ratio in each round."""
    pairs = zip(figures[numerator].rates, figures[denominator].rates, strict=True)
    return statistics.median(a / b for a, b in pairs)


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        return f"{name} (CUDA {torch.version.cuda}), {os.cpu_count()} CPU cores"
    return f"CPU, {os.cpu_count()} cores, torch threads: {torch.get_num_threads()}"


def report(settings: Settings, figures: dict[str, Figures], when: datetime) -> str:
    cuda = settings.device.type == "cuda"
    precision = ["bf16 autocast", "channels_last"] if cuda else ["fp32 (bf16: CUDA only)"]
    compiled = ["torch.compile"] if settings.compile_model else []
    clock = "CUDA events" if cuda else "perf_counter"
    lines = [
        f"Training throughput: ResNet-18 (width {settings.width}) at {IMAGE_SIZE} px, "
        + f"{IMAGENET_CLASSES:,} classes, batch {settings.batch_size}, random data",
        f"device: {describe_device(settings.device)}; torch {torch.__version__}; "
        + f"{when:%Y-%m-%d %H:%M}",
        f"baseline: {settings.images:,} PNG files, ImageFolder + DataLoader "
        + f"(workers: {settings.workers}), ToTensor + Normalize + flip, fp32, .to(device)",
        "baseline+amp: the same with "
        + ("bf16 autocast and channels_last" if cuda else "nothing more (CUDA only)"),
        "ours: " + ", ".join(["uint8 data, crop and flip on the device", *precision, *compiled]),
        "bound: ours' model and step on one batch already on the device",
        f"timing: {settings.warmup} warm-up steps each, then {settings.repeats} rounds timing "
        + f"{settings.steps} steps of each row in turn (ABCD, DCBA, ...), by {clock}; medians",
        "",
        f"{'':12}  {'images/s':>10}  {'(min to max)':>22}  {'ImageNet32 epoch':>16}  "
        + f"{'peak GPU memory':>15}",
    ]
    for name, figure in figures.items():
        spread = f"({min(figure.rates):,.1f} to {max(figure.rates):,.1f})"
        epoch = f"{IMAGENET32_TRAIN_IMAGES / figure.median:,.1f} s"
        peak = f"{figure.peak_bytes / 2**30:.2f} GiB" if figure.peak_bytes is not None else "-"
        lines.append(f"{name:12}  {figure.median:>10,.1f}  {spread:>22}  {epoch:>16}  {peak:>15}")
    epoch = IMAGENET32_TRAIN_IMAGES / figures["ours"].median
    lines += [
        "",
        "ratios: the median of the rounds' ratios",
        f"ours/baseline: {ratio(figures, 'ours', 'baseline'):.2f}x "
        + f"(target: at least {MIN_SPEEDUP:g}x)",
        f"ours/baseline+amp: {ratio(figures, 'ours', 'baseline+amp'):.2f}x "
        + "(the data path's gain alone)",
        f"baseline+amp/baseline: {ratio(figures, 'baseline+amp', 'baseline'):.2f}x "
        + "(precision's gain alone)",
        f"ours/bound: {ratio(figures, 'ours', 'bound'):.3f} "
        + f"(target: at least {MIN_SHARE_OF_BOUND:g})",
        f"ImageNet32 epoch with ours: {epoch:,.1f} s "
        + f"(target: under {MAX_EPOCH_SECONDS:g} s on one H100)",
    ]
    if cuda:
        lines.append(
            "ours holds its data on the GPU: ImageNet32's training set would add "
            f"{IMAGENET32_TRAIN_BYTES / 2**30:.2f} GiB to its peak"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 benchmarks/train_throughput.py",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("-b", "--batch-size", type=int, default=256, help="images per step")
    parser.add_argument("--images", type=int, default=5000, help="PNG files for the baseline")
    parser.add_argument(
        "-j", "--workers", type=int, default=4, help="the baseline's DataLoader workers"
    )
    parser.add_argument("--steps", type=int, default=100, help="timed steps per repeat")
    parser.add_argument(
        "--repeats", type=int, default=5, help="timed rounds (at least 5); the median counts"
    )
    parser.add_argument("--warmup", type=int, default=10, help="untimed steps before the repeats")
    parser.add_argument("--compile", action="store_true", help="torch.compile ours' model")
    parser.add_argument(
        "--width", type=int, default=64, help="channels of the first stage (64: ResNet-18)"
    )
    parser.add_argument("--out", type=Path, help="also write the report to this file")
    args = parser.parse_args(argv)
    if min(args.batch_size, args.images, args.steps, args.repeats, args.warmup, args.width) < 1:
        parser.error("-b, --images, --steps, --repeats, --warmup and --width must be at least 1")
    if args.repeats < 5:
        parser.error("--repeats must be at least 5: a median of fewer rounds is not stable")
    settings = Settings(
        device=resolve_device(args.device),
        width=args.width,
        batch_size=args.batch_size,
        images=args.images,
        workers=args.workers,
        steps=args.steps,
        repeats=args.repeats,
        warmup=args.warmup,
        compile_model=args.compile,
    )
    when = datetime.now()
    figures = measure_all(settings, lambda line: print(line, file=sys.stderr, flush=True))
    text = report(settings, figures, when)
    print(text, end="")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
