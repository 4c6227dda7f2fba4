"""Projections on EfficientNet-Lite0 (ReLU6 activations, explicit SamePad2d padding modules) with its real ImageNet
weights on a natural photo: confined to the receptive field, equal to an independent module-hook oracle for the
ReLU6 rules, and the gradient method equal to torch.autograd.grad of the unit."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from featurelens.capture import capture_activations
from featurelens.projection import project, project_batch

# (kernel, stride) of every spatial convolution between the input and the output of _blocks.2
BLOCK2_CONVS = [(3, 2), (3, 1), (3, 2), (3, 1)]  # stem, block 0 depthwise, block 1 depthwise, block 2 depthwise


def receptive_field(y: int, x: int, convs: list[tuple[int, int]], size: int) -> tuple[slice, slice]:
    """Input rows and columns that unit (y, x) sees through TF-'SAME' padded convolutions (pad before = total // 2)."""
    sizes = [size]
    for _, stride in convs:
        sizes.append(math.ceil(sizes[-1] / stride))
    lo_y = hi_y = y
    lo_x = hi_x = x
    for (kernel, stride), size_in in zip(reversed(convs), reversed(sizes[:-1])):
        out = math.ceil(size_in / stride)
        before = max((out - 1) * stride + kernel - size_in, 0) // 2
        lo_y, hi_y = lo_y * stride - before, hi_y * stride - before + kernel - 1
        lo_x, hi_x = lo_x * stride - before, hi_x * stride - before + kernel - 1
    clip = lambda lo, hi: slice(max(lo, 0), min(hi, size - 1) + 1)  # noqa: E731
    return clip(lo_y, hi_y), clip(lo_x, hi_x)


@pytest.fixture(scope="module")
def cat(photos224) -> torch.Tensor:
    return photos224[1]  # chelsea


@pytest.mark.parametrize("method", ["deconvnet", "guided", "gradient"])
def test_projection_stays_inside_the_receptive_field(lite0, cat, method: str) -> None:
    result = project(lite0, cat, "_blocks.2:22@30,21", method)
    rows, cols = receptive_field(30, 21, BLOCK2_CONVS, 224)
    assert (rows.stop - rows.start, cols.stop - cols.start) == (19, 19)
    array = torch.from_numpy(result.array)
    inside = torch.zeros_like(array, dtype=torch.bool)
    inside[:, rows, cols] = True
    assert torch.isfinite(array).all()
    assert (array[~inside] == 0).all()
    assert (array[inside] != 0).float().mean() > 0.5  # non-trivial: most of the window contributes
    assert result.activation > 0


def test_deconvnet_and_guided_equal_a_relu6_module_hook_oracle(lite0, cat) -> None:
    """All of Lite0's rectifiers are nn.ReLU6 modules, so backward hooks on them give an independent reference."""
    rules = {
        "deconvnet": lambda module, grad_in, grad_out: (grad_out[0].clamp(min=0),),
        "guided": lambda module, grad_in, grad_out: (grad_in[0].clamp(min=0),),  # grad_in is already masked by 0 < x < 6
    }
    inputs = lite0.normalize(cat[None])
    plain = project(lite0, cat, "_blocks.8:12", "gradient")
    for method, rule in rules.items():
        result = project(lite0, cat, "_blocks.8:12", method)
        y, x = result.position
        handles = [m.register_full_backward_hook(rule) for m in lite0.module.modules() if isinstance(m, nn.ReLU6)]
        try:
            image = inputs.clone().requires_grad_(True)
            activation = capture_activations(lite0.module, image, ["_blocks.8"])["_blocks.8"]
            seed = activation[0, 12, y, x].detach() if method == "deconvnet" else 1.0
            (expected,) = torch.autograd.grad(activation[0, 12, y, x] * seed, image)
        finally:
            for handle in handles:
                handle.remove()
        ours = torch.from_numpy(result.array)
        scale = expected.abs().max()
        assert scale > 0 and torch.isfinite(ours).all()
        assert (ours - expected[0]).abs().max() < 1e-5 * scale
        # the ReLU6 override really acts: the answer is not the plain gradient
        gradient = torch.from_numpy(plain.array)
        assert (ours / scale - gradient / gradient.abs().max()).abs().max() > 0.1


def test_gradient_method_equals_autograd_grad_of_the_unit(lite0, cat) -> None:
    result = project(lite0, cat, "_blocks.5:7@center", "gradient")
    assert result.position == (7, 7)  # _blocks.5 is 14×14 at 224
    image = lite0.normalize(cat[None]).requires_grad_(True)
    activation = capture_activations(lite0.module, image, ["_blocks.5"])["_blocks.5"]
    (expected,) = torch.autograd.grad(activation[0, 7, 7, 7], image)
    assert result.activation == pytest.approx(float(activation[0, 7, 7, 7].detach()), abs=1e-5)
    assert torch.allclose(torch.from_numpy(result.array), expected[0], atol=1e-7, rtol=1e-5)
    assert expected.abs().max() > 0


def test_project_batch_runs_one_forward_and_matches_single_projections(lite0, photos224) -> None:
    images = photos224[:3]
    calls = []
    handle = lite0.module._conv_stem.register_forward_pre_hook(lambda module, args: calls.append(1))
    try:
        batch = project_batch(lite0, images, "_blocks.4", [3, 3, 39], None, "deconvnet")
    finally:
        handle.remove()
    assert len(calls) == 1 and batch.shape == (3, 3, 224, 224)
    for i, channel in enumerate([3, 3, 39]):
        single = project(lite0, images[i], f"_blocks.4:{channel}", "deconvnet")
        assert abs(batch[i] - single.array).max() <= 1e-5 * abs(single.array).max()
