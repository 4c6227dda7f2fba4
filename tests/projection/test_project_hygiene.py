"""The rectifier override lives for one call: afterwards (also after a call that raised) autograd gives the ordinary
gradient again, no torch-function mode is left on the stack and no hook is left on any module."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from featurelens.errors import FeaturelensError
from featurelens.models.loaded import LoadedModel
from featurelens.projection import project, rectifier_backward


def input_gradient(model: LoadedModel, images: torch.Tensor) -> torch.Tensor:
    """Plain autograd: d(sum of logits of the true-ish class 0) / d(input)."""
    x = model.normalize(images).requires_grad_(True)
    (grad,) = torch.autograd.grad(model.module(x)[:, 0].sum(), x)
    return grad


def no_hooks_left(module: nn.Module) -> bool:
    return all(
        not (m._forward_hooks or m._forward_pre_hooks or m._backward_hooks or getattr(m, "_backward_pre_hooks", None))
        for m in module.modules()
    )


def test_plain_autograd_is_ordinary_after_projections(fashion, fashion_images) -> None:
    before = input_gradient(fashion, fashion_images)
    for method in ("deconvnet", "guided", "gradient"):
        project(fashion, fashion_images[0], "relu3:80", method)
    after = input_gradient(fashion, fashion_images)
    assert torch.equal(before, after)
    assert torch._C._len_torch_function_stack() == 0
    assert no_hooks_left(fashion.module)


class BreaksAfterRelu(nn.Module):
    """conv → functional ReLU (overridden during a projection) → raises from its `fail_from`-th forward on."""

    def __init__(self, conv: nn.Conv2d, fail_from: int | None):
        super().__init__()
        self.conv = conv
        self.after = nn.Identity()
        self.fail_from = fail_from
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        h = torch.relu(self.conv(x))
        if self.fail_from is not None and self.calls >= self.fail_from:
            raise RuntimeError("boom")
        return self.after(h)


def test_plain_autograd_is_ordinary_after_a_projection_that_raised(fashion, fashion_images) -> None:
    # call 1 is project()'s no-grad shape check; call 2, the projection's own forward, raises inside the override
    broken = LoadedModel(BreaksAfterRelu(fashion.module.conv1, fail_from=2), "broken", 28, 1, fashion.mean, fashion.std)
    with pytest.raises(RuntimeError, match="boom"):
        project(broken, fashion_images[0], "after:3")
    assert broken.module.calls == 2
    with pytest.raises(FeaturelensError):  # a user mistake, caught by validation
        project(fashion, fashion_images[0], "relu3:999")
    assert torch._C._len_torch_function_stack() == 0
    assert no_hooks_left(broken.module)
    # a plain forward/backward through the same ReLU code gives the true ReLU gradient again
    working = BreaksAfterRelu(fashion.module.conv1, fail_from=None)
    x = fashion.normalize(fashion_images).requires_grad_(True)
    pre = fashion.module.conv1(x)
    weights = torch.randn_like(pre)  # a signed seed: the deconvnet rule would rectify it
    (grad,) = torch.autograd.grad((working(x) * weights).sum(), x)
    (expected,) = torch.autograd.grad(pre, x, grad_outputs=weights * (pre > 0), retain_graph=True)
    assert torch.allclose(grad, expected, atol=1e-6)
    assert (grad - input_gradient_deconv_like(pre, x, weights)).abs().max() > 1e-3


def input_gradient_deconv_like(pre: torch.Tensor, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """What a leaked deconvnet rule would give: the seed rectified instead of masked."""
    (grad,) = torch.autograd.grad(pre, x, grad_outputs=weights.clamp(min=0))
    return grad


def test_graph_built_inside_keeps_its_rule_and_graphs_outside_do_not(fashion, fashion_images) -> None:
    x = fashion.normalize(fashion_images[:1]).requires_grad_(True)
    pre = fashion.module.conv1(x)
    seed = -torch.ones_like(pre)
    with rectifier_backward("deconvnet") as mode:
        inside = torch.relu(pre)
    outside = torch.relu(pre)
    assert mode.count == 1
    (g_inside,) = torch.autograd.grad(inside, pre, grad_outputs=seed)
    (g_outside,) = torch.autograd.grad(outside, pre, grad_outputs=seed)
    assert torch.equal(g_inside, torch.zeros_like(pre))  # relu(-1) = 0: the deconvnet rule
    assert torch.equal(g_outside, -(pre > 0).float())  # the ordinary ReLU gradient
