"""The networks: CIFAR-style shapes, sizes, and the fine-tuning head swap."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from trainer.models import build_model, replace_head


@pytest.mark.parametrize("arch", ["resnet18", "resnet34", "resnet50", "vgg19"])
@pytest.mark.parametrize("size", [32, 64])
def test_every_arch_takes_small_images(arch, size):
    model = build_model(arch, 7, width=4).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 3, size, size)).shape == (2, 7)


def test_resnet18_is_the_cifar_style_network():
    model = build_model("resnet18", 1000)
    stem = model.stem[0]
    assert (stem.kernel_size, stem.stride) == ((3, 3), (1, 1))
    assert not any(isinstance(m, nn.MaxPool2d) for m in model.modules())
    # the usual CIFAR ResNet-18 has 11,173,962 parameters with a 512 x 10 head; here 512 x 1000
    assert sum(p.numel() for p in model.parameters()) == 11_173_962 - 5_130 + 513_000
    features = {}
    model.stages[-1].register_forward_hook(lambda m, i, o: features.update(last=o.shape))
    with torch.no_grad():
        model.eval()(torch.randn(1, 3, 32, 32))
    assert features["last"] == (1, 512, 4, 4)  # 32 -> 32, 16, 8, 4 px


def test_width_scales_every_stage():
    model = build_model("resnet18", 10, width=8)
    assert model.fc.in_features == 64
    assert build_model("resnet50", 10, width=8).fc.in_features == 256
    assert build_model("vgg19", 10, width=8).fc.in_features == 64


def test_replace_head_keeps_the_body_and_sizes_the_new_head():
    torch.manual_seed(0)
    model = build_model("resnet18", 1000, width=4)
    body = {k: v.clone() for k, v in model.state_dict().items() if not k.startswith("fc.")}
    old_head = model.fc
    replace_head(model, 488)
    assert model.fc is not old_head and model.fc.out_features == 488
    assert model.fc.in_features == old_head.in_features
    state = model.state_dict()
    assert all(torch.equal(state[k], v) for k, v in body.items())


def test_unknown_arch_is_refused():
    with pytest.raises(ValueError, match="unknown architecture"):
        build_model("alexnet", 10)
