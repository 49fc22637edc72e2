"""The exported classifier: what its outputs mean and how its input is made, written into the
file (ONNX metadata, or a TorchScript extra file), and the ONNX Runtime reader of it.

Torch-free, so that the survey app runs an exported model with ONNX Runtime alone. An exported
model takes uint8 RGB images N x 3 x S x S (made by `image_input.read_image`) and normalises
them itself, so a reader cannot get the constants wrong; they are written here all the same,
for anyone who runs the bare network. Each output ("head") is a probability per label:

- "labels": the CIL's merged labels (a CIL run, the CIL head of a multi-head run, or a
  1,000-way run's class probabilities summed per label of a CIL given at export);
- "classes": the data's own classes (a class-level or multi-head run).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

FORMAT = "cil-classifier"
FORMAT_VERSION = 1
METADATA_KEY = "cil_classifier"  # the ONNX metadata entry, and the TorchScript extra file's name
INPUT_NAME = "images"
HEAD_NAMES = ("labels", "classes")
INPUT_DESCRIPTION = (
    "uint8 RGB, N x 3 x S x S: the centre square of the image, box-filtered to S x S; "
    "the model normalises it with mean and std (0-1 scale) itself"
)


class ClassifierFileError(ValueError):
    """A file that is not an exported classifier of this project, or cannot be run here."""


@dataclass(frozen=True)
class Head:
    name: str  # one of HEAD_NAMES
    names: tuple[str, ...]  # display name of each output
    wnids: tuple[str | None, ...]  # synset of each output, where it has one
    source: str  # "original", or the CIL file the labels came from


@dataclass(frozen=True)
class Description:
    image_size: int  # S: the size the run was trained at
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    heads: tuple[Head, ...]  # in the order of the model's outputs
    run: dict[str, object]  # where it came from: checkpoint, arch, width, epoch

    def head(self, name: str) -> Head | None:
        return next((head for head in self.heads if head.name == name), None)

    def to_json(self) -> str:
        content = {"format": FORMAT, "version": FORMAT_VERSION, "input": INPUT_DESCRIPTION}
        return json.dumps({**content, **asdict(self)}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str, origin: str) -> Description:
        try:
            content = json.loads(text)
            if content.get("format") != FORMAT:
                raise ClassifierFileError(f"{origin} is not a classifier exported by this project")
            if content.get("version") != FORMAT_VERSION:
                raise ClassifierFileError(
                    f"{origin} is exported classifier version {content.get('version')}; "
                    f"this code reads version {FORMAT_VERSION}"
                )
            heads = tuple(
                Head(head["name"], tuple(head["names"]), tuple(head["wnids"]), head["source"])
                for head in content["heads"]
            )
            return cls(
                image_size=int(content["image_size"]),
                mean=tuple(content["mean"]),
                std=tuple(content["std"]),
                heads=heads,
                run=dict(content["run"]),
            )
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as error:
            raise ClassifierFileError(f"{origin}: unreadable classifier description: {error}")


@dataclass(frozen=True)
class Prediction:
    name: str
    wnid: str | None
    probability: float


def top_k(probabilities: np.ndarray, head: Head, k: int) -> list[list[Prediction]]:
    """The k most probable outputs of each image (rows of `probabilities`), best first."""
    k = min(k, len(head.names))
    order = np.argsort(-probabilities, axis=1, kind="stable")[:, :k]
    return [
        [Prediction(head.names[i], head.wnids[i], float(row[i])) for i in indices]
        for row, indices in zip(probabilities, order, strict=True)
    ]


class OnnxClassifier:
    """An exported ONNX classifier run by ONNX Runtime on the CPU."""

    def __init__(self, path: Path, threads: int = 0) -> None:
        try:
            import onnxruntime  # the `demo` extra: only who runs exported models needs it
        except ImportError:
            raise ClassifierFileError(
                "ONNX Runtime is not installed: pip install -e '.[demo]'"
            ) from None
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads  # 0: ONNX Runtime's choice, all cores
        try:
            self.session = onnxruntime.InferenceSession(
                str(path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as error:  # noqa: BLE001 (ONNX Runtime's errors derive from Exception only)
            raise ClassifierFileError(f"cannot load {path} as an ONNX model: {error}") from None
        metadata = self.session.get_modelmeta().custom_metadata_map
        if METADATA_KEY not in metadata:
            raise ClassifierFileError(
                f"{path} is an ONNX model, but not one exported by this project"
            )
        self.description = Description.from_json(metadata[METADATA_KEY], str(path))

    def __call__(self, images: np.ndarray) -> dict[str, np.ndarray]:
        """uint8 N x 3 x S x S -> each head's probabilities, N x outputs."""
        outputs = self.session.run(None, {INPUT_NAME: images})
        return {head.name: out for head, out in zip(self.description.heads, outputs, strict=True)}
