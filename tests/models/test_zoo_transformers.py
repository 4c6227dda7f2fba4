"""torchvision's ViT-B/16 and Swin-T and timm's vit_tiny_patch16_224 (random weights; the mechanics are the weights'
own) through every technique at their fixed size: token and channels-last layers read as features on the patch
grid, heads as units. CI installs both (`featurelens[torchvision,timm]`: torchvision 0.28.0, built for the pinned
torch 2.13.0), so this runs there."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch

import featurelens as fl
from featurelens.capture import probe
from featurelens.errors import FeaturelensError
from featurelens.models.input_sizes import is_fixed_size

MODELS = {  # spec: (a token or channels-last layer, its layout, its features, an attention layer, its heads)
    "torchvision:vit_b_16:random": ("encoder.layers.encoder_layer_6", "tokens 1+14×14", 768, "encoder.layers.encoder_layer_6.self_attention", 12),
    "torchvision:swin_t:random": ("features.5", "channels-last 14×14", 384, None, None),
    "timm:vit_tiny_patch16_224:random": ("blocks.6", "tokens 1+14×14", 192, "blocks.6.attn", 3),
}


def _installed(spec: str) -> bool:
    return importlib.util.find_spec(spec.split(":")[0]) is not None and importlib.util.find_spec("torchvision") is not None


@pytest.mark.parametrize("spec", list(MODELS))
def test_a_zoo_transformer_goes_through_every_technique_at_its_size(spec) -> None:
    if not _installed(spec):
        pytest.skip("pip install 'featurelens[torchvision,timm]'")
    layer, layout, features, attention, heads = MODELS[spec]
    model = fl.load_model(spec)
    found = {info.name: info for info in probe(model).layers}
    assert found[layer].layout.describe() == layout and found[layer].channels == features
    if attention:
        assert found[attention].channels == heads
    images = [torch.rand(3, 224, 224, generator=torch.Generator().manual_seed(i)) for i in range(3)]
    examples = fl.examples(model, images, [layer], k=1, progress=False).layer(layer)
    assert (examples.height, examples.width) == (14, 14) and examples.receptive_field.method == "global"
    assert examples.crop.startswith("effective field")
    projected = fl.project(model, images[0], f"{layer}:5", method="guided", progress=False)
    assert projected.arrays.shape == (1, 3, 224, 224) and np.abs(projected.arrays).sum() > 0
    rendered = fl.render(model, [f"{layer}:5", "logit:3"], steps=2, retry=False, progress=False)
    assert [unit["size"] for unit in rendered.summary()["units"]] == [224, 224]
    dreamt = fl.dream(model, torch.rand(3, 180, 240), objective=layer, steps=1, octaves=2, progress=False)
    assert dreamt.images[0].shape == (180, 240, 3)
    if spec.startswith("torchvision:vit"):  # one input size: another is refused in one line naming it
        assert is_fixed_size(model, ["logit"])
        with pytest.raises(FeaturelensError, match="224×224"):
            fl.render(model, "logit:3", size=236, steps=1, progress=False)
        with pytest.raises(FeaturelensError, match="224×224"):
            fl.project(model, torch.rand(1, 3, 240, 240), "logit:0", method="gradient", progress=False)
