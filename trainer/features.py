"""`python -m trainer.features RUN_DIR`: what a trained model makes of the validation set,
per class, in NumPy files for the clustering package (which reads no torch).

Into the run folder, from its best.pt (or `--checkpoint`):

    classes.txt            the data's classes (sorted wnids): the rows of every file below
    features.npz           `mean`: classes x features, each class's mean penultimate feature (the
                           head's input, seed 003's discovery); `count`: its validation images
and, for a class-level model (`--original-labels`, or the class head of `--multi-head`):
    confusion.npy          int64 classes x classes: images of class i (row) predicted as j
    head_weights.npy       float32 classes x features: the class head's weight rows (NBDT)
    val_probabilities.npy  float16 images x classes: the softmax of each validation image
    val_targets.npy        int64 images: each image's class, a row of classes.txt

`python -m clustering strategy confusion --run RUN_DIR` merges by the confusions (or, with
`--weights`, the weight rows), `python -m clustering discover RUN_DIR/features.npz` looks for
groups in the features, and `python -m clustering compare --run RUN_DIR` scores label sets by the
predictions. Only the validation files are read where the data are Downsampled ImageNet.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from trainer.batches import make_batches
from trainer.checkpoint import best_checkpoint
from trainer.config import Config
from trainer.data import Split, data_classes, load_validation
from trainer.distributed import resolve_device
from trainer.engine import autocast
from trainer.errors import USER_ERRORS, RunError
from trainer.labels import checkpoint_labels
from trainer.models import restore_model
from trainer.original import read_model_checkpoint

CLASSES_FILE = "classes.txt"
FEATURES_FILE = "features.npz"
CONFUSION_FILE = "confusion.npy"
WEIGHTS_FILE = "head_weights.npy"
PROBABILITIES_FILE = "val_probabilities.npy"
TARGETS_FILE = "val_targets.npy"


def class_head_width(source: dict[str, object], classes: tuple[str, ...]) -> int | None:
    """How many of the checkpoint's outputs are the data's classes, in order (the first ones,
    for a multi-head model); None for a model of CIL labels."""
    labels = source["labels"]
    if labels.get("source") == "original" and tuple(labels["wnids"]) == classes:
        return len(classes)
    return None


@torch.no_grad()
def read_out(
    model: nn.Module,
    split: Split,
    num_classes: int,
    class_outputs: int | None,
    *,
    device: torch.device,
    batch_size: int = 256,
    amp: bool = False,
) -> dict[str, np.ndarray]:
    """One pass over `split`: per class the sum and count of the penultimate features (the
    input of `model.fc`) and, with `class_outputs`, the confusion matrix, the softmax and the
    targets. Everything stays on the device until the pass ends, then is copied out at once
    (the softmax of ImageNet's 50,000 validation images is 100 MB in float16)."""
    model.eval()
    captured: list[torch.Tensor] = []
    hook = model.fc.register_forward_hook(lambda module, inputs, output: captured.append(inputs[0]))
    width = model.fc.in_features
    sums = torch.zeros(num_classes, width, dtype=torch.float64, device=device)
    counts = torch.zeros(num_classes, dtype=torch.float64, device=device)
    confusion = torch.zeros(num_classes * num_classes, dtype=torch.int64, device=device)
    probabilities, targets = [], []
    batches = make_batches(
        split, train=False, batch_size=batch_size, device=device, on_device=False, workers=0
    )
    try:
        for inputs, classes in tqdm(batches, desc="validation", disable=None, leave=False):
            captured.clear()
            with autocast(device, amp):
                logits = model(inputs).float()
            sums.index_add_(0, classes, captured[0].double())
            counts.index_add_(0, classes, torch.ones_like(classes, dtype=counts.dtype))
            if class_outputs is not None:
                softmax = logits[:, :class_outputs].softmax(dim=1)
                # index_add_ rather than bincount: bincount sizes its output on the host
                confusion.index_add_(
                    0, classes * num_classes + softmax.argmax(dim=1), torch.ones_like(classes)
                )
                probabilities.append(softmax.half())
                targets.append(classes)
    finally:
        hook.remove()
    found = {
        "count": counts.cpu().numpy().astype(np.int64),
        "mean": (sums / counts.clamp_min(1)[:, None]).float().cpu().numpy(),
    }
    if class_outputs is not None:
        found["confusion"] = confusion.view(num_classes, num_classes).cpu().numpy()
        found["probabilities"] = torch.cat(probabilities).cpu().numpy()
        found["targets"] = torch.cat(targets).cpu().numpy()
    return found


def write_features(
    run_dir: Path,
    *,
    data_dir: Path | None = None,
    checkpoint: Path | None = None,
    device_name: str = "auto",
    batch_size: int = 256,
) -> list[Path]:
    """Read the run's model and validation data and write the files of the module's docstring;
    returns their paths."""
    args_file = run_dir / "args.json"
    if not args_file.is_file():
        raise RunError(f"{run_dir} is not a run folder: it has no args.json")
    config = Config.from_dict(json.loads(args_file.read_text()))
    if data_dir is not None:
        config = Config.from_dict({**config.to_dict(), "data_dir": str(data_dir)})
    path = best_checkpoint(checkpoint or run_dir)
    classes = data_classes(config.data_dir, config.label_order)
    source = read_model_checkpoint(path, classes)
    head = class_head_width(source, classes)
    labels, _ = checkpoint_labels(source["labels"], classes, config.labels)
    device = resolve_device(device_name)
    model = restore_model(source, labels, device, channels_last=False)
    split_classes, split = load_validation(
        config.data_dir, label_order=config.label_order, image_size=config.image_size
    )
    if split_classes != classes:
        raise RunError(f"{config.data_dir}: the validation data's classes are not the run's")
    found = read_out(
        model,
        split,
        len(classes),
        head,
        device=device,
        batch_size=batch_size,
        amp=device.type == "cuda",
    )
    written = [run_dir / CLASSES_FILE, run_dir / FEATURES_FILE]
    written[0].write_text("".join(f"{wnid}\n" for wnid in classes))
    np.savez(written[1], mean=found["mean"], count=found["count"])
    if head is not None:
        weights = source["model"]["fc.weight"][:head].float().numpy()
        for name, array in (
            (CONFUSION_FILE, found["confusion"]),
            (WEIGHTS_FILE, weights),
            (PROBABILITIES_FILE, found["probabilities"]),
            (TARGETS_FILE, found["targets"]),
        ):
            np.save(run_dir / name, array)
            written.append(run_dir / name)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m trainer.features",
        description="Write a run's per-class mean penultimate features and, for a class-level "
        "model, its validation confusion matrix, head weight rows and softmax, as "
        "NumPy files in the run folder, for `python -m clustering strategy "
        "confusion`, `discover` and `compare`.",
    )
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="a training run's folder")
    parser.add_argument(
        "--data",
        type=Path,
        metavar="DIR",
        help="the dataset folder (default: the run's, from args.json)",
    )
    parser.add_argument(
        "--checkpoint",
        type=Path,
        metavar="FILE",
        help="the checkpoint to read (default: RUN_DIR/best.pt)",
    )
    parser.add_argument(
        "--device", default="auto", help="auto, cpu, cuda or cuda:N (default: auto)"
    )
    parser.add_argument(
        "-b", "--batch-size", type=int, default=256, help="images per batch (default: 256)"
    )
    args = parser.parse_args(argv)
    try:
        written = write_features(
            args.run_dir,
            data_dir=args.data,
            checkpoint=args.checkpoint,
            device_name=args.device,
            batch_size=args.batch_size,
        )
    except (*USER_ERRORS, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if len(written) == 2:
        print("the model's outputs are CIL labels, not the classes: features only", file=sys.stderr)
    for path in written:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
