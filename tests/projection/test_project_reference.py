"""Deconvnet, guided backprop and gradient equal a hand-written reconstruction (F.conv_transpose2d, F.max_unpool2d
with the forward's switches, the rectifier rule) on the trained fashion-cnn rewired with every way of writing a
rectifier: modules (in place, reused), functional, tensor methods, clamp, threshold, ReLU6, hardtanh, explicit padding."""

from __future__ import annotations

import copy
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from featurelens.errors import FeaturelensError
from featurelens.projection import project, project_batch, rectifier_backward

# style → (rectifier per stage, upper bound the hand reference uses)
STYLES = {
    "module": (lambda: [nn.ReLU(), nn.ReLU(), nn.ReLU()], math.inf),
    "module_inplace": (lambda: [nn.ReLU(inplace=True) for _ in range(3)], math.inf),
    "reused_module": (lambda: [nn.ReLU()] * 3, math.inf),
    "functional": (lambda: [F.relu] * 3, math.inf),
    "functional_inplace": (lambda: [lambda x: F.relu(x, inplace=True)] * 3, math.inf),
    "torch_relu_": (lambda: [torch.relu_, torch.relu, F.relu_], math.inf),
    "tensor_methods": (lambda: [lambda x: x.relu(), lambda x: x.relu_(), lambda x: x.clamp_min_(0)], math.inf),
    "clamp": (lambda: [lambda x: torch.clamp(x, min=0), lambda x: x.clamp_(min=0), lambda x: x.clip(0)], math.inf),
    "threshold": (lambda: [nn.Threshold(0.0, 0.0), lambda x: F.threshold(x, 0.0, 0.0, inplace=True), lambda x: torch.threshold(x, 0, 0)], math.inf),
    "mixed": (lambda: [nn.ReLU(inplace=True), F.relu, lambda x: x.relu_()], math.inf),
    "relu6": (lambda: [nn.ReLU6(), lambda x: F.relu6(x, inplace=True), nn.ReLU6(inplace=True)], 6.0),
    # a bound of 1 clips ~7% of this network's activations, so the upper end of the mask is exercised
    "bounded_at_1": (lambda: [nn.Hardtanh(0.0, 1.0), lambda x: F.hardtanh_(x, 0.0, 1.0), lambda x: x.clamp(0, 1)], 1.0),
}


class RewiredFashionCNN(nn.Module):
    """The trained fashion-cnn weights with the rectifiers of `style`, an explicit padding module before conv1
    and a functional max-pool in stage 2."""

    def __init__(self, trained: nn.Module, style: str):
        super().__init__()
        self.pad1 = nn.ZeroPad2d(1)
        self.conv1 = nn.Conv2d(1, 32, 3, padding=0)
        self.conv1.load_state_dict(trained.conv1.state_dict())
        self.conv2, self.conv3, self.fc = (copy.deepcopy(m) for m in (trained.conv2, trained.conv3, trained.fc))
        self.pool1, self.pool3 = nn.MaxPool2d(2), nn.MaxPool2d(2)
        rectifiers = STYLES[style][0]()
        self.rectifier_modules = nn.ModuleList([r for r in rectifiers if isinstance(r, nn.Module)])
        self.rectifiers = rectifiers
        self.eval().requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool1(self.rectifiers[0](self.conv1(self.pad1(x))))
        x = F.max_pool2d(self.rectifiers[1](self.conv2(x)), 2)
        x = self.pool3(self.rectifiers[2](self.conv3(x)))
        return self.fc(x.flatten(1))


def hand_projection(trained, inputs, layer, channel, position, method, upper):
    """Zeiler & Fergus by hand: run forward keeping pre-activations and pooling switches, then walk back
    unpool → rectifier rule → transposed filters. Returns (projection [1, C, H, W], activation)."""
    convs = [trained.conv1, trained.conv2, trained.conv3]
    pre, switches, sizes = [], [], []
    x = inputs
    stop = int(layer[-1]) - 1
    for i, conv in enumerate(convs):
        x = F.conv2d(x, conv.weight, conv.bias, padding=1)
        if layer == f"conv{i + 1}":
            break
        pre.append(x)
        x = x.clamp(0, upper)
        sizes.append(x.shape[-2:])
        x, index = F.max_pool2d(x, 2, return_indices=True)
        switches.append(index)
    y, xx = position
    value = x[0, channel, y, xx]
    signal = torch.zeros_like(x)
    signal[0, channel, y, xx] = value if method == "deconvnet" else 1.0
    for i in range(stop, -1, -1):
        if i < len(switches):  # this stage's pool and rectifier lie between the unit and the conv below
            signal = F.max_unpool2d(signal, switches[i], 2, output_size=sizes[i])
            active = (pre[i] > 0) & (pre[i] < upper)
            if method == "deconvnet":
                signal = signal.clamp(min=0)
            elif method == "guided":
                signal = (signal * active).clamp(min=0)
            else:
                signal = signal * active
        signal = F.conv_transpose2d(signal, convs[i].weight, padding=1)
    return signal, float(value)


@pytest.mark.parametrize("style", list(STYLES))
def test_every_rectifier_call_is_overridden(fashion, fashion_images, style: str) -> None:
    net = RewiredFashionCNN(fashion.module, style)
    x = fashion.normalize(fashion_images[:2]).requires_grad_(True)
    with rectifier_backward("deconvnet") as mode:
        net(x)
    assert mode.count == 3


@pytest.mark.parametrize("method", ["deconvnet", "guided", "gradient"])
@pytest.mark.parametrize("style", list(STYLES))
@pytest.mark.parametrize("unit", ["pool3:83", "conv3:54@3,2", "conv2:26"])
def test_projection_equals_hand_written_reconstruction(fashion, fashion_images, style: str, method: str, unit: str) -> None:
    net = RewiredFashionCNN(fashion.module, style)
    rewired = copy.copy(fashion)
    rewired.module = net
    upper = STYLES[style][1]
    layer, channel = unit.split("@")[0].split(":")
    peaks = []
    for image in fashion_images[:2]:
        result = project(rewired, image, unit, method)
        expected, value = hand_projection(fashion.module, fashion.normalize(image[None]), layer, int(channel), result.position, method, upper)
        assert result.activation == pytest.approx(value, abs=1e-5)
        assert torch.allclose(torch.from_numpy(result.array), expected[0], atol=1e-5, rtol=1e-4)
        peaks.append(float(expected.abs().max()))
    # the comparison is not vacuous; the one exception: with a bound of 1 the strongest pool3 unit is saturated,
    # and a saturated unit has zero gradient (and guided signal) — a correct, checked, all-zero answer
    if not (style == "bounded_at_1" and layer == "pool3" and method != "deconvnet"):
        assert max(peaks) > 1e-3


def test_default_position_is_the_channels_strongest(fashion, fashion_images) -> None:
    for image in fashion_images[:4]:
        result = project(fashion, image, "relu2:7")
        activation = fashion.module.relu2(fashion.module.conv2(fashion.module.pool1(fashion.module.relu1(fashion.module.conv1(fashion.normalize(image[None]))))))
        channel = activation[0, 7]
        assert result.activation == pytest.approx(float(channel.max()), abs=1e-6)
        assert channel[result.position] == channel.max()
        assert result.unit == f"relu2:7@{result.position[0]},{result.position[1]}"


def test_batched_projection_equals_single_projections(fashion, fashion_images) -> None:
    images = fashion_images[:4]
    channels = [83, 17, 17, 54]
    positions = torch.tensor([[0, 0], [1, 2], [2, 2], [0, 1]])
    for method in ("deconvnet", "guided", "gradient"):
        batch = project_batch(fashion, images, "relu3", channels, positions, method)
        assert batch.shape == (4, 1, 28, 28) and batch.dtype == "float32"
        for i, image in enumerate(images):
            single = project(fashion, image, f"relu3:{channels[i]}@{positions[i, 0]},{positions[i, 1]}", method)
            assert abs(batch[i] - single.array).max() < 1e-6


@pytest.mark.filterwarnings("ignore:Setting backward hooks on ReLU:UserWarning")
def test_captum_is_wrong_on_functional_and_in_place_relus(fashion, fashion_images) -> None:
    """The case is real: Captum only hooks nn.ReLU modules, so on the rewired net it silently returns something else."""
    captum_attr = pytest.importorskip("captum.attr")
    for style in ("functional", "mixed"):
        net = RewiredFashionCNN(fashion.module, style)
        rewired = copy.copy(fashion)
        rewired.module = net
        x = fashion.normalize(fashion_images[:1])
        ours = project(rewired, fashion_images[0], "pool3:83")
        expected, _ = hand_projection(fashion.module, x, "pool3", 83, ours.position, "deconvnet", math.inf)
        captum = captum_attr.NeuronDeconvolution(net, net.pool3).attribute(x.clone().requires_grad_(True), neuron_selector=(83, *ours.position)) * ours.activation
        assert torch.allclose(torch.from_numpy(ours.array), expected[0], atol=1e-5)
        assert (captum[0] - expected[0]).abs().max() > 0.1 * expected.abs().max()
        if style == "functional":  # no nn.ReLU module at all: Captum's "deconvolution" is the plain gradient
            gradient, _ = hand_projection(fashion.module, x, "pool3", 83, ours.position, "gradient", math.inf)
            assert (captum - gradient * ours.activation).abs().max() < 1e-5


@pytest.mark.filterwarnings("ignore:.*torch.jit.script.* is deprecated:DeprecationWarning")
def test_torchscript_is_refused_for_deconvnet_and_guided_but_gradient_works(fashion, fashion_images) -> None:
    """TorchScript bypasses the Python-level override, so a silent plain gradient is refused with a clear error."""
    scripted = copy.copy(fashion)
    scripted.module = torch.jit.script(fashion.module)
    for method in ("deconvnet", "guided"):
        with pytest.raises(FeaturelensError, match="TorchScript"):
            project(scripted, fashion_images[0], "logit:9", method)
    ours = project(scripted, fashion_images[0], "logit:9", "gradient")
    plain = project(fashion, fashion_images[0], "logit:9", "gradient")
    assert ours.position is None and ours.activation == pytest.approx(plain.activation, abs=1e-5)
    assert abs(ours.array - plain.array).max() < 1e-6 and abs(plain.array).max() > 0
