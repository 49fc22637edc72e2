"""`python -m trainer.predict SOURCE IMAGE...`: the top-k labels of pictures, from a run folder,
a checkpoint, or an exported model (see `python -m trainer.predict --help`)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
from tqdm import tqdm

from imagenet_files.classifier_file import Prediction, top_k
from imagenet_files.image_input import CROPS, MAX_PIXELS, read_image
from trainer.classifier import OnnxClassifier, TorchClassifier, open_classifier
from trainer.errors import USER_ERRORS

# The CIL's labels first: they are the answer in words a person uses; the classes beside them.
SHOWN_HEADS = ("labels", "classes")


def read_images(
    paths: list[Path],
    size: int,
    *,
    max_pixels: int = MAX_PIXELS,
    crop: str = CROPS[0],
    progress: bool = False,
) -> np.ndarray:
    """All images as one uint8 N x 3 x S x S array (`crop`: see `image_input.to_input`); the
    first unusable file stops with its name, before any time goes to the model."""
    images = np.empty((len(paths), 3, size, size), dtype=np.uint8)
    for i, path in enumerate(tqdm(paths, desc="reading", unit="image", disable=not progress)):
        images[i] = read_image(path, size, max_pixels=max_pixels, crop=crop)
    return images


def predict(
    classifier: TorchClassifier | OnnxClassifier,
    images: np.ndarray,
    *,
    k: int = 5,
    batch_size: int = 64,
    progress: bool = False,
) -> list[dict[str, list[Prediction]]]:
    """Each image's top-k per head, by head name."""
    results: list[dict[str, list[Prediction]]] = []
    batches = range(0, len(images), batch_size)
    for start in tqdm(batches, desc="predicting", unit="batch", disable=not progress):
        outputs = classifier(images[start : start + batch_size])
        tops = {
            head.name: top_k(outputs[head.name], head, k) for head in classifier.description.heads
        }
        for i in range(len(next(iter(tops.values())))):
            results.append({name: tops[name][i] for name in SHOWN_HEADS if name in tops})
    return results


def format_table(paths: list[Path], results: list[dict[str, list[Prediction]]]) -> str:
    """One block per image: rank, then each head's name and probability side by side."""
    lines = []
    for path, result in zip(paths, results, strict=True):
        heads = list(result)
        widths = [max(len(_name(p)) for p in result[head]) for head in heads]
        widths = [max(width, len(head)) for width, head in zip(widths, heads, strict=True)]
        lines.append(str(path))
        header = "  ".join(f"{head:<{w}}       " for head, w in zip(heads, widths, strict=True))
        lines.append(f"  #  {header}".rstrip())
        for rank in range(max(len(result[head]) for head in heads)):
            cells = []
            for head, width in zip(heads, widths, strict=True):
                shown = result[head]
                p = shown[rank] if rank < len(shown) else None
                cells.append(
                    f"{_name(p):<{width}} {p.probability:6.1%}" if p else " " * (width + 7)
                )
            lines.append(f"  {rank + 1:<2} " + "  ".join(cells).rstrip())
    return "\n".join(lines)


def _name(prediction: Prediction) -> str:
    if prediction.wnid and prediction.wnid != prediction.name:
        return f"{prediction.name} ({prediction.wnid})"
    return prediction.name


def to_json(
    paths: list[Path], results: list[dict[str, list[Prediction]]], model: dict[str, object]
) -> str:
    predictions = [
        {"image": str(path), **{head: [asdict(p) for p in tops] for head, tops in result.items()}}
        for path, result in zip(paths, results, strict=True)
    ]
    return json.dumps({"model": model, "predictions": predictions}, indent=2)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m trainer.predict",
        description=(
            "Classify pictures with a trained run: the top-k labels of each image with their "
            "probabilities. A picture (JPEG, PNG or WebP, any size) is squashed whole to the size "
            "the run was trained at with a box filter, as Downsampled ImageNet was made (--crop "
            "center to take its centre square instead). A CIL run answers with its merged labels; a run trained on the "
            "classes answers with the classes, and with --labels also with the CIL's labels "
            "(their classes' probabilities summed); a multi-head run answers with both."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "source",
        type=Path,
        metavar="SOURCE",
        help="a run folder (its best.pt), a checkpoint file, or a file written by "
        "trainer.export (.onnx, or TorchScript)",
    )
    parser.add_argument("images", type=Path, nargs="+", metavar="IMAGE", help="image files")
    parser.add_argument("-k", "--top", type=int, default=5, help="labels shown per image")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "--labels",
        type=Path,
        metavar="CIL",
        help="a CIL to sum a class-level run's probabilities into (a run folder or checkpoint)",
    )
    parser.add_argument(
        "--image-size",
        type=int,
        metavar="PX",
        help="the run's training image size, for checkpoints that do not record it",
    )
    parser.add_argument(
        "--max-pixels",
        type=int,
        default=MAX_PIXELS,
        help="refuse larger images (width x height), against decompression bombs",
    )
    parser.add_argument(
        "--crop",
        choices=CROPS,
        default=CROPS[0],
        help="squash: the whole picture to a square, as Downsampled ImageNet was made; "
        "center: its centre square, undistorted but without its sides",
    )
    parser.add_argument("-b", "--batch-size", type=int, default=64, help="images per batch")
    parser.add_argument(
        "--device", default="cpu", help="cpu, cuda or cuda:N (run folders and TorchScript)"
    )
    args = parser.parse_args(argv)
    if args.top < 1 or args.batch_size < 1 or args.max_pixels < 1:
        parser.error("--top, --batch-size and --max-pixels must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        classifier = open_classifier(
            args.source, labels=args.labels, image_size=args.image_size, device=args.device
        )
        progress = len(args.images) > 100 and sys.stderr.isatty()
        images = read_images(
            args.images,
            classifier.description.image_size,
            max_pixels=args.max_pixels,
            crop=args.crop,
            progress=progress,
        )
    except USER_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    results = predict(classifier, images, k=args.top, batch_size=args.batch_size, progress=progress)
    if args.json:
        print(to_json(args.images, results, classifier.description.run))
    else:
        print(format_table(args.images, results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
