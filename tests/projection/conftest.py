"""Real inputs for projection tests: Fashion-MNIST test images for fashion-cnn, a natural photo for EfficientNet-Lite0."""

from __future__ import annotations

import pytest
import torch

from featurelens.data import fashion_mnist
from featurelens.photos import photo_batch


@pytest.fixture(scope="session")
def fashion_images() -> torch.Tensor:
    """Eight real Fashion-MNIST test images (one of each of the first eight classes), [8, 1, 28, 28] in [0, 1]."""
    if not fashion_mnist.dataset_dir().is_dir():
        pytest.skip("apt-get install dataset-fashion-mnist")
    images, labels = fashion_mnist.load_fashion_mnist("test")
    first = [int((labels == c).nonzero()[0]) for c in range(8)]
    return images[first].float()[:, None] / 255


@pytest.fixture(scope="session")
def photos224() -> torch.Tensor:
    """The bundled natural photos at 224×224, [N, 3, 224, 224] in [0, 1] (index 1 is chelsea the cat)."""
    return photo_batch(224, 3)
