"""`fashion-vit`: the project's own vision transformer, its addressable parts, and its shipped weights."""

from __future__ import annotations

import json

import pytest
import torch

from featurelens import load_model
from featurelens.capture import probe
from featurelens.data import fashion_mnist
from featurelens.models.fashion_vit import FashionViT, shipped_training_checkpoints
from featurelens.models.registry import registered_names

needs_data = pytest.mark.skipif(not fashion_mnist.dataset_dir().is_dir(), reason="apt-get install dataset-fashion-mnist")


@pytest.fixture(scope="module")
def vit():
    return load_model("fashion-vit")


def test_fashion_vit_is_a_registered_28_px_model_with_its_training_checkpoints(vit) -> None:
    assert "fashion-vit" in registered_names()
    assert (vit.input_size, vit.min_size, vit.in_channels) == (28, 28, 1)
    assert vit.class_label(1) == "Trouser" and vit.mean == (0.2860,) and vit.std == (0.3530,)
    labels = [torch.load(path, weights_only=True)["label"] for path in shipped_training_checkpoints()]
    assert labels[0] == "init" and labels[-1].startswith("epoch") and len(labels) == 5


def test_every_part_is_a_named_layer_with_token_outputs(vit) -> None:
    layers = {info.name: info for info in probe(vit).layers}
    shapes = {name: info.raw_shape for name, info in layers.items()}  # as the layers return them
    assert shapes["patch_embed"] == (64, 7, 7)
    for block in range(4):
        assert shapes[f"blocks.{block}"] == (50, 64)  # the class token first, then 7 × 7 patches
        assert layers[f"blocks.{block}"].shape == (64, 7, 7)  # read as 64 features on the patch grid
        assert shapes[f"blocks.{block}.attn.weights"] == (4, 50, 50)
        assert shapes[f"blocks.{block}.attn.heads"] == (50, 64)
    assert shapes["norm"] == (50, 64) and shapes["head"] == (10,) and shapes["logit"] == (10,)


def test_hooks_see_the_attention_each_head_reads_with() -> None:
    torch.manual_seed(0)
    model = FashionViT().eval()
    x = torch.randn(2, 1, 28, 28)
    names = ["blocks.1.norm1", "blocks.1.attn.weights", "blocks.1.attn.heads", "blocks.1.attn"]
    acts = {}  # the raw outputs, as plain hooks see them (captures read them as features on the patch grid)
    handles = [model.get_submodule(name).register_forward_hook(lambda m, a, out, name=name: acts.setdefault(name, out)) for name in names]
    with torch.no_grad():
        model(x)
    for handle in handles:
        handle.remove()
    attn = model.blocks[1].attn
    weights = acts["blocks.1.attn.weights"]
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 4, 50))  # probabilities over keys
    v = attn.qkv(acts["blocks.1.norm1"]).view(2, 50, 3, 4, 16)[:, :, 2]  # [N, T, heads, hd]
    for head in range(4):  # head h is channels 16h:16(h+1) of `attn.heads`: its weights times its values
        expected = weights[:, head] @ v[:, :, head]
        torch.testing.assert_close(acts["blocks.1.attn.heads"][..., 16 * head:16 * (head + 1)], expected)
    torch.testing.assert_close(attn.proj(acts["blocks.1.attn.heads"]), acts["blocks.1.attn"])


def test_other_sizes_are_refused_in_words() -> None:
    with pytest.raises(ValueError, match="28×28 images, got 32×32"):
        FashionViT()(torch.zeros(1, 1, 32, 32))


@needs_data
def test_the_shipped_weights_reach_0_88_on_the_test_images(vit) -> None:
    images, labels = fashion_mnist.load_fashion_mnist("test")
    x = vit.normalize(images.float().div(255).unsqueeze(1))
    with torch.no_grad():
        predicted = torch.cat([vit.module(chunk).argmax(1) for chunk in x.split(1000)])
    assert (predicted == labels).float().mean().item() >= 0.88


def test_the_layers_command_lists_the_transformer(featurelens_cli) -> None:
    done = featurelens_cli("layers", "--model", "fashion-vit", "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    names = {row["name"] for row in json.loads(done.stdout)}
    for name in ("patch_embed", "blocks.3.attn.weights", "blocks.3.attn.heads", "blocks.3.mlp.act", "head"):
        assert name in names
