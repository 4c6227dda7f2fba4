"""Activation capture: early stopping, correctness with in-place/functional ReLUs and ReLU6, hook hygiene."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from featurelens.capture import ActivationCapture, capture_activations, list_layers
from featurelens.errors import FeaturelensError


class Recorder(nn.Module):
    """Identity that records every call, to see which layers ran."""

    def __init__(self, log, name):
        super().__init__()
        self.log, self.name = log, name

    def forward(self, x):
        self.log.append(self.name)
        return x


class InplaceNet(nn.Module):
    """conv → in-place ReLU → conv → functional ReLU → shared ReLU6 used twice → linear."""

    def __init__(self, log):
        super().__init__()
        torch.manual_seed(0)
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
        self.act1 = nn.ReLU(inplace=True)
        self.mark1 = Recorder(log, "mark1")
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1)
        self.shared = nn.ReLU6()
        self.mark2 = Recorder(log, "mark2")
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        x = self.mark1(self.act1(self.conv1(x)))
        x = F.relu(self.conv2(x), inplace=True)
        x = self.shared(self.shared(x * 3) - 1)
        x = self.mark2(x)
        return self.head(x.mean((2, 3)))


def test_forward_stops_after_the_deepest_requested_layer():
    log = []
    net = InplaceNet(log).eval()
    capture_activations(net, torch.randn(1, 3, 8, 8), ["conv1"])
    assert log == []  # nothing after conv1 ran
    capture_activations(net, torch.randn(1, 3, 8, 8), ["conv1", "conv2"])
    assert "mark1" in log and "mark2" not in log  # stopped at conv2 (run twice: act1 writes conv1 in place)
    log.clear()
    capture_activations(net, torch.randn(1, 3, 8, 8), ["conv2", "logit"])
    assert "mark2" in log  # the output was asked for: full forward


def test_captured_values_survive_later_inplace_relus():
    """conv1's output is rectified in place by act1; the captured tensor must stay the pre-ReLU value."""
    net = InplaceNet([]).eval()
    x = torch.randn(2, 3, 8, 8)
    expected = net.conv1(x).detach()
    acts = capture_activations(net, x, ["conv1", "conv2"])
    assert (expected < 0).any()
    assert torch.allclose(acts["conv1"], expected)


def test_gradients_through_captures_with_inplace_and_functional_relus():
    net = InplaceNet([]).eval()
    x = torch.randn(1, 3, 8, 8, requires_grad=True)
    acts = capture_activations(net, x, ["conv1", "conv2"])
    (acts["conv1"][0, 1].sum() + acts["conv2"][0, 2].sum()).backward()
    reference_x = x.detach().clone().requires_grad_(True)
    h1 = net.conv1(reference_x)
    h2 = net.conv2(F.relu(h1))
    (h1[0, 1].sum() + h2[0, 2].sum()).backward()
    assert torch.allclose(x.grad, reference_x.grad, atol=1e-6)


def test_reused_module_is_captured_at_its_first_call():
    net = InplaceNet([]).eval()
    x = torch.randn(1, 3, 8, 8)
    acts = capture_activations(net, x, ["shared"])
    h = F.relu(net.conv2(F.relu(net.conv1(x))))
    assert torch.allclose(acts["shared"], F.relu6(h * 3))


def test_relu6_layer_of_real_model_matches_manual_forward(lite0):
    x = lite0.normalize(torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(1)))
    acts = capture_activations(lite0.module, x, ["_stem_act", "logit"])
    m = lite0.module
    manual = F.relu6(m._bn0(m._conv_stem(x)))
    assert torch.allclose(acts["_stem_act"], manual, atol=1e-5)
    assert acts["_stem_act"].max() <= 6.0 and torch.allclose(acts["logit"], m(x), atol=1e-4)


def _hook_count(module):
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in module.modules())


def test_hooks_are_removed_after_an_exception():
    net = InplaceNet([]).eval()
    with pytest.raises(RuntimeError):
        with ActivationCapture(net, ["conv2"]) as capture:
            assert _hook_count(net) == 1
            capture.run(torch.randn(1, 5, 8, 8))  # wrong channel count: conv1 raises
    assert _hook_count(net) == 0
    with pytest.raises(ZeroDivisionError):
        with ActivationCapture(net, ["conv1"]):
            1 / 0
    assert _hook_count(net) == 0


def test_list_layers_leaves_no_hooks_and_reports_shapes(lite0):
    infos = list_layers(lite0.module, torch.zeros(1, 3, 64, 64))
    by_name = {i.name: i for i in infos}
    assert by_name["_blocks.8"].shape == (112, 4, 4)
    assert by_name["logit"].shape == (1000,)
    assert _hook_count(lite0.module) == 0


def test_unknown_layer_lists_close_names():
    with pytest.raises(FeaturelensError, match=r"closest: conv\d, conv\d"):
        ActivationCapture(InplaceNet([]), ["conv"])


def test_inplace_changes_are_detected_and_shielded_only_when_needed():
    x = torch.randn(2, 3, 8, 8)
    inplace = InplaceNet([]).eval()
    with ActivationCapture(inplace, ["conv1", "conv2"]) as capture:
        first = capture.run(x)
        assert capture.shield  # act1 rectified conv1's output in place: the run was redone with clones
        assert torch.allclose(first["conv1"], inplace.conv1(x))
    with torch.inference_mode(), ActivationCapture(inplace, ["conv1", "conv2"]) as capture:
        assert torch.allclose(capture.run(x)["conv1"], inplace.conv1(x))
    plain = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3)).eval()
    with ActivationCapture(plain, ["0", "2"]) as capture:
        capture.run(x)
        assert not capture.shield  # nothing wrote in place: no clones, no second run


def test_affine_batchnorm_computes_the_same_values_and_gradients_and_restores(lite0):
    from featurelens.capture.memory_format import affine_batchnorm

    x = lite0.normalize(torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(3))).requires_grad_(True)
    plain = capture_activations(lite0.module, x, ["_blocks.5._bn1", "_blocks.8"])
    (expected_grad,) = torch.autograd.grad(plain["_blocks.8"].square().mean(), x)
    with affine_batchnorm(lite0.module):
        fast = capture_activations(lite0.module, x, ["_blocks.5._bn1", "_blocks.8"])
        (fast_grad,) = torch.autograd.grad(fast["_blocks.8"].square().mean(), x)
    assert torch.allclose(fast["_blocks.5._bn1"], plain["_blocks.5._bn1"], atol=1e-4)  # hooks on BN still fire
    assert torch.allclose(fast_grad, expected_grad, rtol=1e-3, atol=1e-6)
    assert not any("forward" in m.__dict__ for m in lite0.module.modules())  # original forwards restored


def test_gradients_do_not_depend_on_the_input_layout(lite0):
    """torch 2.13's CPU eval-mode BatchNorm backward is wrong for a contiguous input meeting a gradient strided
    like (C, 1, W·C, C) at batch 1 (what an einsum's backward hands back; off by 150 % here); captures feed conv
    nets channels-last, so the gradient is the same whatever the caller's layout."""
    from featurelens.photos import photo_batch

    photo = photo_batch(96)[2:3]
    seed = torch.randn(6, 6, 1, 80, generator=torch.Generator().manual_seed(0)).permute(2, 3, 0, 1)  # strides (80, 1, 480, 80)
    grads = []
    for layout in (torch.contiguous_format, torch.channels_last):
        x = photo.contiguous(memory_format=layout).requires_grad_(True)
        activation = capture_activations(lite0.module, lite0.normalize(x), ["_blocks.5"])["_blocks.5"]
        (grad,) = torch.autograd.grad(activation, x, seed)
        grads.append(grad)
    assert (grads[0] - grads[1]).abs().max() <= 1e-5 * grads[1].abs().max()
