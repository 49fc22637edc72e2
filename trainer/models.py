"""Networks for 32 and 64 px images, in the CIFAR style the paper used.

ImageNet's ResNet stem (7x7 stride-2 convolution, then max-pooling) would shrink a 32 px image to
8 px before the first block; here the stem is one 3x3 stride-1 convolution and there is no
max-pool, so the four stages see 32, 16, 8 and 4 px. VGG-19 keeps its five pools (32 px ends at
1 px) and has a single linear layer as its head. Every model calls its head `fc`, so fine-tuning
swaps it the same way for all of them.

`width` is the first stage's channel count (64 in the standard networks; later stages double
it). Narrow models exist for tests and quick checks, where the architecture is not the point.

`build_model` makes a network by name; `make_model` the network a run starts from (fresh, or a
checkpoint's body with a new head when fine-tuning), `restore_model` a trained one, whole.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from trainer.config import Config
from trainer.errors import RunError
from trainer.labels import LabelSpace
from trainer.original import read_model_checkpoint


def _conv_bn(in_channels: int, out_channels: int, kernel: int, stride: int = 1) -> list[nn.Module]:
    return [
        nn.Conv2d(in_channels, out_channels, kernel, stride, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(out_channels),
    ]


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, in_channels: int, channels: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            *_conv_bn(in_channels, channels, 3, stride),
            nn.ReLU(inplace=True),
            *_conv_bn(channels, channels, 3),
        )
        self.shortcut = _shortcut(in_channels, channels * self.expansion, stride)

    def forward(self, x: Tensor) -> Tensor:
        return (self.body(x) + self.shortcut(x)).relu_()


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, in_channels: int, channels: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            *_conv_bn(in_channels, channels, 1),
            nn.ReLU(inplace=True),
            *_conv_bn(channels, channels, 3, stride),
            nn.ReLU(inplace=True),
            *_conv_bn(channels, channels * self.expansion, 1),
        )
        self.shortcut = _shortcut(in_channels, channels * self.expansion, stride)

    def forward(self, x: Tensor) -> Tensor:
        return (self.body(x) + self.shortcut(x)).relu_()


def _shortcut(in_channels: int, out_channels: int, stride: int) -> nn.Module:
    if stride == 1 and in_channels == out_channels:
        return nn.Identity()
    return nn.Sequential(*_conv_bn(in_channels, out_channels, 1, stride))


class ResNet(nn.Module):
    def __init__(
        self,
        block: type[BasicBlock | Bottleneck],
        depths: tuple[int, int, int, int],
        num_outputs: int,
        width: int = 64,
    ) -> None:
        super().__init__()
        self.stem = nn.Sequential(*_conv_bn(3, width, 3), nn.ReLU(inplace=True))
        stages, in_channels = [], width
        for i, depth in enumerate(depths):
            channels = width * 2**i
            for j in range(depth):
                stride = 2 if i > 0 and j == 0 else 1
                stages.append(block(in_channels, channels, stride))
                in_channels = channels * block.expansion
        self.stages = nn.Sequential(*stages)
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(in_channels, num_outputs)
        _init(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.pool(self.stages(self.stem(x))))


VGG19_LAYERS = (1, 1, "M", 2, 2, "M", 4, 4, 4, 4, "M", 8, 8, 8, 8, "M", 8, 8, 8, 8, "M")


class VGG(nn.Module):
    def __init__(self, num_outputs: int, width: int = 64) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        in_channels = 3
        for item in VGG19_LAYERS:
            if item == "M":
                layers.append(nn.MaxPool2d(2))
            else:
                layers += [*_conv_bn(in_channels, width * item, 3), nn.ReLU(inplace=True)]
                in_channels = width * item
        self.features = nn.Sequential(*layers)
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(in_channels, num_outputs)
        _init(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.pool(self.features(x)))


def _init(model: nn.Module) -> None:
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)


def build_model(arch: str, num_outputs: int, width: int = 64) -> nn.Module:
    """One of config.ARCHS with `num_outputs` outputs."""
    if arch == "resnet18":
        return ResNet(BasicBlock, (2, 2, 2, 2), num_outputs, width)
    if arch == "resnet34":
        return ResNet(BasicBlock, (3, 4, 6, 3), num_outputs, width)
    if arch == "resnet50":
        return ResNet(Bottleneck, (3, 4, 6, 3), num_outputs, width)
    if arch == "vgg19":
        return VGG(num_outputs, width)
    raise ValueError(f"unknown architecture {arch!r}")


def replace_head(model: nn.Module, num_outputs: int) -> None:
    """A new, freshly initialised `fc` for `num_outputs` labels: the fine-tuning step."""
    model.fc = nn.Linear(model.fc.in_features, num_outputs).to(model.fc.weight.device)


def make_model(
    config: Config,
    labels: LabelSpace,
    device: torch.device,
    classes: tuple[str, ...] = (),
    *,
    extra_outputs: int = 0,
) -> nn.Module:
    """A fresh model (with `extra_outputs` for a second head), or (fine-tuning) a checkpoint's
    model with a new head for `labels`; the checkpoint may be the original trainer's .pth of a
    model of the data's `classes`."""
    if config.finetuning is None:
        return build_model(config.arch, labels.num_labels + extra_outputs, config.width).to(device)
    source = read_model_checkpoint(config.finetuning, classes)
    if (source["arch"], source["width"]) != (config.arch, config.width):
        raise RunError(
            f"--finetuning {config.finetuning} holds a {source['arch']} of width "
            f"{source['width']}: pass --arch {source['arch']} --width {source['width']}"
        )
    model = build_model(source["arch"], source["model"]["fc.weight"].shape[0], source["width"])
    model.load_state_dict(source["model"])
    replace_head(model, labels.num_labels)
    return model.to(device)


def restore_model(
    source: dict[str, object], labels: LabelSpace, device: torch.device, channels_last: bool
) -> nn.Module:
    """The network of a checkpoint (as read by `read_model_checkpoint`), on `device`."""
    outputs = source["model"]["fc.weight"].shape[0]
    expected = labels.num_labels + len(source.get("cil_head", {}).get("names", ()))
    if outputs != expected:
        raise RunError(f"the checkpoint's {outputs} outputs are not its {expected} labels")
    model = build_model(source["arch"], outputs, source["width"])
    model.load_state_dict(source["model"])
    model = model.to(device)
    return model.to(memory_format=torch.channels_last) if channels_last else model
