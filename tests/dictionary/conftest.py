"""A dictionary over fashion-cnn's conv3 for the features-as-units tests: learned from real activations."""

from __future__ import annotations

import pytest
import torch

from featurelens.capture import capture_activations
from featurelens.data.fashion_mnist import load_fashion_mnist
from featurelens.dictionary import Dictionary
from featurelens.models import load_model


def principal_dictionary(features: int = 16) -> Dictionary:
    """A small dictionary whose encoder rows are the leading principal directions of conv3 over 2 000 test images
    (signed both ways): real directions of the layer, made in a second."""
    model = load_model("fashion-cnn")
    images, _ = load_fashion_mnist("test")
    with torch.no_grad():
        acts = capture_activations(model.module, model.normalize(images[:2000, None].float() / 255), ["conv3"])["conv3"]
    rows = acts.movedim(1, -1).reshape(-1, acts.shape[1])
    mean = rows.mean(0)
    _, _, basis = torch.linalg.svd(rows - mean, full_matrices=False)
    directions = torch.cat([basis[: features // 2], -basis[: features // 2]])
    bias = torch.linspace(-1.0, 1.0, features)  # offsets differ by feature: values are affine in the direction
    return Dictionary("fashion-cnn", "conv3", "topk", 4, 2.0, directions * 3.0, bias, directions, mean / 2.0, name="pca")


@pytest.fixture(scope="session")
def pca_dictionary_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("dictionary") / "conv3-pca.pt"
    principal_dictionary().save(path)
    return path
