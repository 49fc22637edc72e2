"""`python -m trainer.export SOURCE --format torchscript|onnx`: a run as one file that runs
without this project's code, checked against PyTorch after writing (see --help)."""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
from pathlib import Path

import numpy as np
import torch

from imagenet_files.classifier_file import INPUT_NAME, METADATA_KEY, Description, OnnxClassifier
from trainer.classifier import (
    Classifier,
    TorchClassifier,
    load_classifier,
    load_torchscript,
    torchscript_allowed,
)
from trainer.errors import USER_ERRORS, TrainerError

FORMATS = {"torchscript": ".pt", "onnx": ".onnx"}
# The largest difference of a probability between the file and PyTorch that passes the check.
# Both compute in fp32; ONNX Runtime's fused kernels differ from PyTorch's by about 1e-6.
TOLERANCE = 1e-4


class ExportError(TrainerError):
    """The export did not give a file that matches the run; the message says by how much."""


def check_images(size: int, count: int = 16) -> np.ndarray:
    """uint8 count x 3 x S x S: solid colours, gradients and noise, fixed by a seed, to compare
    the exported model with PyTorch on inputs unlike each other."""
    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 255, size, dtype=np.float64)
    images = rng.integers(0, 256, (count, 3, size, size)).astype(np.float64)
    for i in range(count // 2):  # the first half: solid colours and two-way gradients
        colour = rng.integers(0, 256, 3)[:, None, None]
        gradient = ramp[None, :, None] if i % 2 else ramp[None, None, :]
        images[i] = colour if i % 4 == 0 else (colour + gradient) / 2
    return images.astype(np.uint8)


def write_torchscript(classifier: Classifier, description: Description, out: Path) -> None:
    example = torch.from_numpy(check_images(description.image_size, 2))
    # Tracing records the one path the network takes; it has no data-dependent branches.
    with torchscript_allowed():
        traced = torch.jit.trace(classifier, example)
        torch.jit.save(traced, str(out), _extra_files={METADATA_KEY: description.to_json()})


def write_onnx(classifier: Classifier, description: Description, out: Path) -> None:
    import onnx  # the `export` extra, as are onnxscript (torch's exporter) and ONNX Runtime

    example = torch.from_numpy(check_images(description.image_size, 2))
    # The exporter prints its progress; the command says what it did in one line instead.
    with contextlib.redirect_stdout(io.StringIO()):
        program = torch.onnx.export(
            classifier,
            (example,),
            input_names=[INPUT_NAME],
            output_names=[head.name for head in description.heads],
            dynamic_shapes={"images": {0: torch.export.Dim("batch")}},
            dynamo=True,
        )
    model = program.model_proto
    onnx.helper.set_model_props(model, {METADATA_KEY: description.to_json()})
    onnx.checker.check_model(model)
    onnx.save(model, str(out))


def largest_difference(
    reference: TorchClassifier, exported: TorchClassifier | OnnxClassifier
) -> float:
    """The largest difference of any probability between the two on `check_images`."""
    images = check_images(reference.description.image_size)
    expected, got = reference(images), exported(images)
    if set(expected) != set(got):
        raise ExportError(f"the file has the heads {sorted(got)}, the run {sorted(expected)}")
    return max(float(np.abs(expected[name] - got[name]).max()) for name in expected)


def export(
    source: Path,
    out: Path,
    file_format: str,
    *,
    labels: Path | None = None,
    image_size: int | None = None,
    tolerance: float = TOLERANCE,
) -> float:
    """Write `source`'s classifier to `out` and check it; returns the largest difference.

    The file is written beside `out` first and renamed only once it passes, so a failed export
    leaves no file that looks finished.
    """
    classifier, description = load_classifier(source, labels=labels, image_size=image_size)
    partial = out.with_name(out.name + ".partial")
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        if file_format == "onnx":
            write_onnx(classifier, description, partial)
            exported = OnnxClassifier(partial)
        else:
            write_torchscript(classifier, description, partial)
            exported = load_torchscript(partial)
        if exported.description != description:
            raise ExportError(f"{out}: the description read back differs from the one written")
        difference = largest_difference(TorchClassifier(classifier, description), exported)
        if difference > tolerance:
            raise ExportError(
                f"the exported model's probabilities differ from PyTorch's by up to "
                f"{difference:.2e}, more than the tolerance {tolerance:.0e}"
            )
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    return difference


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m trainer.export",
        description=(
            "Write a run's model as one file: TorchScript (torch alone runs it) or ONNX (ONNX "
            "Runtime runs it, as the survey app's demo page does). The file takes uint8 RGB "
            "images N x 3 x S x S, normalises them itself, and outputs probabilities per head; "
            "the label table, the image size and the normalisation constants are written into "
            "it (ONNX metadata, or a TorchScript extra file). After writing, the file is read "
            "back and its outputs compared with PyTorch's on solid colours, gradients and "
            "noise; it is kept only if they match within the tolerance."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("source", type=Path, metavar="SOURCE", help="a run folder or checkpoint")
    parser.add_argument("--format", required=True, choices=sorted(FORMATS), dest="file_format")
    parser.add_argument(
        "--out",
        type=Path,
        help="the file to write; default: model.onnx or model.pt in the run folder",
    )
    parser.add_argument(
        "--labels",
        type=Path,
        metavar="CIL",
        help="a CIL whose labels a class-level run also outputs (its classes' probabilities "
        "summed)",
    )
    parser.add_argument(
        "--image-size",
        type=int,
        metavar="PX",
        help="the run's training image size, for checkpoints that do not record it",
    )
    parser.add_argument(
        "--tolerance",
        type=float,
        default=TOLERANCE,
        help="largest difference of a probability from PyTorch's that passes the check",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    folder = args.source if args.source.is_dir() else args.source.parent
    out = args.out or folder / f"model{FORMATS[args.file_format]}"
    try:
        difference = export(
            args.source,
            out,
            args.file_format,
            labels=args.labels,
            image_size=args.image_size,
            tolerance=args.tolerance,
        )
    except USER_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(
        f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB); its probabilities match PyTorch's "
        f"within {difference:.1e} (tolerance {args.tolerance:.0e})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
