"""The original project's checkpoints: `torch.save(model.state_dict(), "N.pth")` of its
ResNet-18 (kuangliu's pytorch-cifar layout: conv1, bn1, layer1..4 of blocks with conv1, bn1,
conv2, bn2 and shortcut, and a `linear` head), read as checkpoints of this trainer.

Its network is this trainer's resnet18 of width 64 under other names, so only the keys change.
Its 1,000-way models output the classes in sorted wnid order (it trained torchvision's
ImageFolder), as ours do; its CIL models' label order is not in the file, so they are refused.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

from trainer.checkpoint import CheckpointError, load_checkpoint

BLOCKS_PER_STAGE = (2, 2, 2, 2)  # ResNet-18
_BLOCK_KEY = re.compile(r"^layer(\d)\.(\d+)\.(conv1|bn1|conv2|bn2|shortcut\.[01])\.(.+)$")
_BLOCK_PART = {"conv1": "body.0", "bn1": "body.1", "conv2": "body.3", "bn2": "body.4"}


def is_original_state(state: object) -> bool:
    return isinstance(state, dict) and "conv1.weight" in state and "linear.weight" in state


def convert_original_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The original's state_dict under this trainer's resnet18 names."""
    converted = {}
    for key, value in state.items():
        if key.startswith(("conv1.", "bn1.")):
            layer, rest = key.split(".", 1)
            new = f"stem.{0 if layer == 'conv1' else 1}.{rest}"
        elif key.startswith("linear."):
            new = "fc." + key.removeprefix("linear.")
        elif match := _BLOCK_KEY.match(key):
            stage, block, part, rest = match.groups()
            index = sum(BLOCKS_PER_STAGE[: int(stage) - 1]) + int(block)
            part = _BLOCK_PART.get(part, part)
            new = f"stages.{index}.{part}.{rest}"
        else:
            raise CheckpointError(f"{key} is not a key of the original trainer's ResNet-18")
        converted[new] = value
    return converted


def read_model_checkpoint(path: Path, classes: tuple[str, ...]) -> dict[str, object]:
    """A checkpoint of this trainer, or an original .pth presented as one (arch, width, labels,
    model); `classes` are the data's, the outputs of an original 1,000-way model."""
    try:
        return load_checkpoint(path)
    except CheckpointError as error:
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as load_error:  # not a torch file at all: the first error says it
            raise error from load_error
        if isinstance(state, dict) and is_original_state(state.get("state_dict")):
            state = state["state_dict"]
        if not is_original_state(state):
            raise
    outputs = state["linear.weight"].shape[0]
    if outputs != len(classes):
        raise CheckpointError(
            f"{path} is an original trainer's model with {outputs} outputs; only its "
            f"{len(classes)}-class models can be read, as the file does not record the order "
            "of its CIL labels"
        )
    return {
        "arch": "resnet18",
        "width": 64,
        "labels": {"names": list(classes), "wnids": list(classes), "source": "original"},
        "model": convert_original_state(state),
        "config": {},
    }
