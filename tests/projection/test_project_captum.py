"""On a plain network (nn.ReLU modules, max-pooling) — the case Captum gets right — projections equal Captum's
NeuronDeconvolution / NeuronGuidedBackprop / NeuronGradient: the trained fashion-cnn on real Fashion-MNIST images."""

from __future__ import annotations

import warnings

import pytest
import torch

from featurelens.capture import capture_activations
from featurelens.projection import project_batch

captum_attr = pytest.importorskip("captum.attr")

# (layer, channel, (y, x)): a post-ReLU unit, a pooled unit two stages down, a pre-ReLU conv unit
UNITS = [("relu3", 80, (2, 5)), ("pool2", 50, (4, 1)), ("conv3", 77, (4, 1)), ("relu1", 8, (20, 20))]
CAPTUM = {"deconvnet": "NeuronDeconvolution", "guided": "NeuronGuidedBackprop", "gradient": "NeuronGradient"}


def captum_projection(model, images, layer, channel, position, method):
    attribution = getattr(captum_attr, CAPTUM[method])(model.module, dict(model.module.named_modules())[layer])
    with warnings.catch_warnings():  # Captum warns that it hooks the ReLU modules
        warnings.simplefilter("ignore", UserWarning)
        return attribution.attribute(model.normalize(images), neuron_selector=(channel, *position))


@pytest.mark.parametrize("method", ["deconvnet", "guided", "gradient"])
@pytest.mark.parametrize("layer, channel, position", UNITS)
def test_equals_captum_on_fashion_cnn(fashion, fashion_images, method, layer, channel, position) -> None:
    images = fashion_images
    positions = torch.tensor([position] * len(images))
    ours = torch.from_numpy(project_batch(fashion, images, layer, [channel] * len(images), positions, method))
    theirs = captum_projection(fashion, images, layer, channel, position, method)
    if method == "deconvnet":  # ours keeps the activation (Zeiler & Fergus), Captum seeds with 1
        with torch.no_grad():
            activation = capture_activations(fashion.module, fashion.normalize(images), [layer])[layer]
        value = activation[:, channel, position[0], position[1]]
        theirs = theirs * value.view(-1, 1, 1, 1)
        # a negative kept activation is rectified on the way back, so only positive ones scale Captum's answer
        ours, theirs = ours[value > 0], theirs[value > 0]
        assert len(ours) >= 6
    assert theirs.abs().amax() > 1e-2  # a non-trivial comparison
    assert (ours - theirs).abs().max() < 1e-5
