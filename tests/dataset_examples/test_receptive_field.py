"""Receptive fields equal the gradient footprint of units: every input pixel a unit depends on, and no other.

The footprint is measured here independently of the library: a float64 copy of the real model with
ReLU/ReLU6 and batch norm removed, max-pools made average pools and every weight 1/fan-in, so no
gradient path is gated or cancels; then the pixels with nonzero gradient of one unit.
"""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from featurelens.capture import capture_activations
from featurelens.geometry import receptive_fields
from featurelens.models import LoadedModel

FASHION_LAYERS = ["conv1", "relu1", "pool1", "conv2", "relu2", "pool2", "conv3", "relu3", "pool3"]
LITE_LAYERS = ["_conv_stem", "_blocks.0", "_blocks.1", "_blocks.2", "_blocks.3", "_blocks.5", "_blocks.8", "_blocks.11", "_blocks.15", "_conv_head"]


def linear_copy(module: nn.Module) -> nn.Module:
    linear = copy.deepcopy(module).double().eval()
    for name, sub in list(linear.named_modules()):
        if isinstance(sub, (nn.ReLU, nn.ReLU6, nn.BatchNorm2d)):
            new = nn.Identity()
        elif isinstance(sub, nn.MaxPool2d):
            new = nn.AvgPool2d(sub.kernel_size, sub.stride, sub.padding, sub.ceil_mode)
        else:
            continue
        parent, _, child = name.rpartition(".")
        setattr(linear.get_submodule(parent), child, new)
    with torch.no_grad():
        for sub in linear.modules():
            if isinstance(sub, nn.Conv2d):
                sub.weight.fill_(1.0 / sub.weight[0].numel())
                if sub.bias is not None:
                    sub.bias.zero_()
    return linear


def footprint(module: nn.Module, layer: str, channels: int, size: int, unit: tuple[int, int] | None = None) -> tuple[torch.Tensor, tuple[int, int]]:
    """Bool [size, size] of pixels with nonzero gradient of all channels at `unit` (default: the centre), and the unit."""
    probe = torch.ones(1, channels, size, size, dtype=next(module.parameters()).dtype, requires_grad=True)
    act = capture_activations(module, probe, [layer])[layer]
    h, w = act.shape[2:]
    y, x = unit if unit is not None else (h // 2, w // 2)
    (grad,) = torch.autograd.grad(act[0, :, y, x].sum(), probe)
    return grad[0].abs().sum(0) > 0, (y, x)


def box_mask(box: tuple[int, int, int, int], size: int) -> torch.Tensor:
    x0, y0, x1, y1 = box
    mask = torch.zeros(size, size, dtype=torch.bool)
    mask[y0:y1, x0:x1] = True
    return mask


def check_against_footprints(model: LoadedModel, layers: list[str], size: int) -> dict:
    fields = receptive_fields(model, layers, size)
    linear = linear_copy(model.module)
    for layer in layers:
        field = fields[layer]
        assert field.method == "analytic", f"{layer}: the walk should model this chain exactly"
        for unit in (None, (0, 0)):
            mask, (y, x) = footprint(linear, layer, model.in_channels, size, unit)
            expected = box_mask(field.box(y, x), size)
            assert torch.equal(mask, expected), f"{layer} unit {y},{x} at {size}px: box {field.box(y, x)} vs footprint"
    return fields


def test_fashion_cnn_fields_match_footprints(fashion) -> None:
    fields = check_against_footprints(fashion, FASHION_LAYERS, 28)
    assert (fields["conv3"].size, fields["conv3"].stride, fields["conv3"].offset) == ((18, 18), (4, 4), (-7, -7))
    assert (fields["pool3"].size, fields["pool3"].stride) == ((22, 22), (8, 8))


@pytest.mark.parametrize("size", [64, 72, 96])
def test_efficientnet_fields_match_footprints(lite0, size: int) -> None:
    """SAME padding of stride-2 layers is asymmetric and depends on the input size: 72 px has odd maps (9 → 5)."""
    fields = check_against_footprints(lite0, LITE_LAYERS, size)
    assert fields["_blocks.15"].stride == (32, 32) and fields["_conv_stem"].size == (3, 3)


def test_efficientnet_offset_depends_on_input_size(lite0) -> None:
    at64 = receptive_fields(lite0, ["_blocks.5"], 64)["_blocks.5"]
    at72 = receptive_fields(lite0, ["_blocks.5"], 72)["_blocks.5"]
    assert at64.size == at72.size == (83, 83)
    assert at64.offset != at72.offset


def test_real_gradient_stays_inside_the_box(fashion) -> None:
    """With the real weights, ReLUs and max-pools gate paths: the footprint shrinks but never leaves the box."""
    field = receptive_fields(fashion, ["conv3"], 28)["conv3"]
    torch.manual_seed(0)
    probe = torch.rand(1, 1, 28, 28, requires_grad=True)
    act = capture_activations(fashion.module, fashion.normalize(probe), ["conv3"])["conv3"]
    (grad,) = torch.autograd.grad(act[0, :, 3, 3].sum(), probe)
    inside = box_mask(field.box(3, 3), 28)
    assert (grad[0, 0] != 0).any() and not (grad[0, 0] != 0)[~inside].any()


class Branches(nn.Module):
    """Parallel 3×3 and 5×5 branches (a serial walk would wrongly stack them) and a functional max-pool."""

    def __init__(self) -> None:
        super().__init__()
        self.narrow = nn.Conv2d(1, 2, 3, padding=1)
        self.wide = nn.Conv2d(1, 2, 5, padding=2)
        self.mix = nn.Conv2d(4, 4, 1)
        self.after = nn.Conv2d(4, 4, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.mix(torch.cat([self.narrow(x), self.wide(x)], 1))
        return self.after(F.max_pool2d(x, 2))


@pytest.mark.parametrize("layer", ["mix", "after"])
def test_branching_model_falls_back_to_measured_footprints(layer: str) -> None:
    model = LoadedModel(Branches(), "branches", input_size=20, in_channels=1)
    field = receptive_fields(model, [layer], 20)[layer]
    assert field.method == "measured"
    linear = linear_copy(model.module)
    for unit in [(0, 0), (1, 2), None]:
        mask, (y, x) = footprint(linear, layer, 1, 20, unit)
        assert torch.equal(mask, box_mask(field.box(y, x), 20)), f"{layer} unit {y},{x}"
    if layer == "mix":
        assert field.box(10, 10) == (8, 8, 13, 13)  # the 5×5 branch, not 3 + 5 − 1 = 7
