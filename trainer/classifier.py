"""A trained run as a classifier of pictures: the network with its normalisation in front and a
softmax per head behind, and the description an exported file carries (see
`imagenet_files.classifier_file`). `predict` runs it; `export` writes it to a file.
"""

from __future__ import annotations

import contextlib
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch import nn

from clustering.cil import read_cil
from imagenet_files.classifier_file import METADATA_KEY, Description, Head, OnnxClassifier
from imagenet_files.label_order import read_label_order
from trainer.batches import MEAN, STD, statistics
from trainer.checkpoint import best_checkpoint
from trainer.errors import TrainerError
from trainer.labels import cil_labels
from trainer.models import build_model
from trainer.original import read_model_checkpoint


class ClassifierError(TrainerError):
    """A run folder or checkpoint that cannot be made into a classifier; the message says why."""


class Classifier(nn.Module):
    """uint8 RGB N x 3 x S x S -> a tuple of probabilities, one per head.

    `slices` are the (start, end) outputs of the network that each head's softmax reads (a
    multi-head network has its class outputs first, then its CIL outputs); `merge`, when given,
    turns the class head's probabilities into a last head of CIL labels (classes x labels).
    """

    def __init__(
        self,
        network: nn.Module,
        slices: list[tuple[int, int]],
        merge: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        self.network = network
        self.slices = slices
        # (x / 255 - mean) / std as one multiply and subtract: the trainer's batches' own.
        scale, shift = statistics(torch.device("cpu"))
        self.register_buffer("scale", scale)
        self.register_buffer("shift", shift)
        self.register_buffer("merge", merge if merge is not None else torch.zeros(0, 0))
        self.has_merge = merge is not None
        self.eval()  # batch norm with its running statistics: a classifier never trains

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        logits = self.network(images.float() * self.scale - self.shift)
        heads = [logits[:, start:end].softmax(dim=1) for start, end in self.slices]
        if self.has_merge:
            heads.append(heads[-1] @ self.merge)
        return tuple(heads)


def load_classifier(
    source: Path, *, labels: Path | None = None, image_size: int | None = None
) -> tuple[Classifier, Description]:
    """The classifier of a run folder or checkpoint, with its description.

    `labels`: a CIL whose merged labels a class-level model's probabilities are summed into.
    `image_size`: for checkpoints that do not record it (older ones and the original trainer's).
    """
    path = best_checkpoint(source)
    # The original trainer's 1,000-way models output the sorted ImageNet-1k wnids.
    checkpoint = read_model_checkpoint(path, tuple(sorted(read_label_order())))
    size = image_size or checkpoint.get("image_size") or checkpoint["config"].get("image_size")
    if not size:
        raise ClassifierError(
            f"{path} does not record the image size it was trained at: pass --image-size "
            "(32 or 64 for Downsampled ImageNet)"
        )
    trained = checkpoint["labels"]
    cil_head = checkpoint.get("cil_head")
    class_level = trained["source"] == "original"
    if labels and not class_level:
        raise ClassifierError(
            f"{path} was trained on the labels of {trained['source']}: --labels merges only the "
            "outputs of a model trained on the classes"
        )
    heads, slices, merge = [], [], None
    width = len(trained["names"])
    main = Head("classes" if class_level else "labels", *_table(trained))
    if cil_head:  # a multi-head network: class outputs first, then the CIL head's
        heads += [Head("labels", *_table(cil_head)), main]
        slices += [(width, width + len(cil_head["names"])), (0, width)]
    else:
        heads.append(main)
        slices.append((0, width))
    if labels and not cil_head:
        space = cil_labels(tuple(trained["wnids"]), read_cil(labels), str(labels))
        heads.append(Head("labels", space.names, space.wnids, space.source))
        merge = space.merge_matrix()  # the merged head comes last, summed from the classes
    network = build_model(
        checkpoint["arch"], checkpoint["model"]["fc.weight"].shape[0], checkpoint["width"]
    )
    network.load_state_dict(checkpoint["model"])
    classifier = Classifier(network, slices, merge)
    description = Description(
        image_size=int(size),
        mean=MEAN,
        std=STD,
        heads=tuple(heads),
        run={
            "checkpoint": str(path),
            "arch": checkpoint["arch"],
            "width": checkpoint["width"],
            "epoch": checkpoint.get("epoch"),
        },
    )
    return classifier, description


def _table(described: dict[str, object]) -> tuple[tuple[str, ...], tuple[str | None, ...], str]:
    return tuple(described["names"]), tuple(described["wnids"]), str(described["source"])


class TorchClassifier:
    """A `Classifier` or a loaded TorchScript file, called like `OnnxClassifier`: uint8 numpy
    images in, each head's probabilities out as numpy."""

    def __init__(self, module: nn.Module, description: Description, device: str = "cpu") -> None:
        self.module = module.to(device).eval()
        self.description = description
        self.device = device

    @torch.inference_mode()
    def __call__(self, images: np.ndarray) -> dict[str, np.ndarray]:
        outputs = self.module(torch.from_numpy(images).to(self.device))
        return {
            head.name: out.float().cpu().numpy()
            for head, out in zip(self.description.heads, outputs, strict=True)
        }


@contextlib.contextmanager
def torchscript_allowed() -> Iterator[None]:
    """torch 2.14 deprecates TorchScript for torch.export; it is still the one file format that
    torch alone loads and runs without this project's code, which is what an export is for."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "`torch.jit", FutureWarning)
        yield


def is_torchscript(path: Path) -> bool:
    """Whether `path` is a TorchScript file this project exported: a zip archive holding our
    description as an extra file (a checkpoint is a zip archive too, without it)."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(name.endswith(f"/extra/{METADATA_KEY}") for name in archive.namelist())


def load_torchscript(path: Path, device: str = "cpu") -> TorchClassifier:
    extra = {METADATA_KEY: ""}
    try:
        with torchscript_allowed():
            module = torch.jit.load(str(path), map_location=device, _extra_files=extra)
    except RuntimeError as error:
        raise ClassifierError(f"cannot load {path} as TorchScript: {error}") from None
    return TorchClassifier(module, Description.from_json(extra[METADATA_KEY], str(path)), device)


def open_classifier(
    source: Path,
    *,
    labels: Path | None = None,
    image_size: int | None = None,
    device: str = "cpu",
) -> TorchClassifier | OnnxClassifier:
    """A run folder, a checkpoint, or an exported file (.onnx, or TorchScript), ready to call."""
    exported = source.is_file() and (source.suffix == ".onnx" or is_torchscript(source))
    if exported and (labels or image_size):
        raise ClassifierError(
            f"{source} is an exported model: its labels and image size were fixed at export "
            "(export again with --labels or --image-size)"
        )
    if exported and source.suffix == ".onnx":
        if device != "cpu":
            raise ClassifierError("an ONNX model runs on the CPU here: leave out --device")
        return OnnxClassifier(source)
    if exported:
        return load_torchscript(source, device)
    classifier, description = load_classifier(source, labels=labels, image_size=image_size)
    return TorchClassifier(classifier, description, device)
