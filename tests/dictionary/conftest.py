"""A dictionary over fashion-cnn's conv3 for the features-as-units tests: learned from real activations."""

from __future__ import annotations

import pytest
import torch

from featurelens.capture import capture_activations
from featurelens.data.fashion_mnist import load_fashion_mnist
from featurelens.dictionary import Dictionary
from featurelens.models import load_model


def principal_directions(activations: torch.Tensor, count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The `count` leading principal directions [count, C] of a layer's rows (every position of `activations`
    [N, C, *positions]), and the rows' mean [C]."""
    rows = activations.movedim(1, -1).reshape(-1, activations.shape[1])
    mean = rows.mean(0)
    return torch.linalg.svd(rows - mean, full_matrices=False)[2][:count], mean


def principal_dictionary(features: int = 16) -> Dictionary:
    """A small dictionary whose encoder rows are the leading principal directions of conv3 over 2 000 test images
    (signed both ways): real directions of the layer, made in a second."""
    model = load_model("fashion-cnn")
    images, _ = load_fashion_mnist("test")
    with torch.no_grad():
        acts = capture_activations(model.module, model.normalize(images[:2000, None].float() / 255), ["conv3"])["conv3"]
    basis, mean = principal_directions(acts, features // 2)
    directions = torch.cat([basis, -basis])
    bias = torch.linspace(-1.0, 1.0, features)  # offsets differ by feature: values are affine in the direction
    return Dictionary("fashion-cnn", "conv3", "topk", 4, 2.0, directions * 3.0, bias, directions, mean / 2.0, name="pca")


@pytest.fixture(scope="session")
def pca_dictionary_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("dictionary") / "conv3-pca.pt"
    principal_dictionary().save(path)
    return path
