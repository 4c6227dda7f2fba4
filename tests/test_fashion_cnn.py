"""Fashion-MNIST loader and the shipped `fashion-cnn` weights, checked against the real data."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from featurelens.data import fashion_mnist
from featurelens.data.fashion_mnist import FASHION_CLASSES, load_fashion_mnist
from featurelens.errors import FeaturelensError
from featurelens.models.fashion_cnn import build_fashion_cnn, loaded_fashion_cnn

needs_data = pytest.mark.skipif(
    not fashion_mnist.dataset_dir().is_dir(), reason="apt-get install dataset-fashion-mnist"
)


@needs_data
def test_test_split_is_10000_balanced_uint8_images() -> None:
    images, labels = load_fashion_mnist("test")
    assert images.shape == (10_000, 28, 28) and images.dtype == torch.uint8
    assert labels.dtype == torch.int64
    assert labels.bincount(minlength=10).tolist() == [1000] * 10
    assert len(FASHION_CLASSES) == 10


@needs_data
def test_train_split_has_60000_images() -> None:
    images, labels = load_fashion_mnist("train")
    assert images.shape == (60_000, 28, 28) and labels.shape == (60_000,)


@needs_data
def test_shipped_weights_reach_088_test_accuracy() -> None:
    model = build_fashion_cnn()
    images, labels = load_fashion_mnist("test")
    correct = 0
    with torch.no_grad():
        for start in range(0, len(images), 1000):
            x = ((images[start : start + 1000].float() / 255 - 0.2860) / 0.3530).unsqueeze(1)
            correct += (model(x).argmax(1) == labels[start : start + 1000]).sum().item()
    assert correct / len(images) >= 0.88


def test_shipped_weights_are_small_float32() -> None:
    params = list(build_fashion_cnn().parameters())
    assert all(p.dtype == torch.float32 for p in params)
    assert sum(p.numel() * p.element_size() for p in params) < 1_000_000


def test_loaded_model_normalises_unit_images() -> None:
    loaded = loaded_fashion_cnn()
    assert loaded.spec == "fashion-cnn" and loaded.in_channels == 1 and loaded.input_size == 28
    assert loaded.class_label(9) == "Ankle boot" and loaded.class_index("sneaker") == 7
    x = torch.full((1, 1, 28, 28), 0.2860)
    assert loaded.normalize(x).abs().max().item() < 1e-6
    assert dict(loaded.module.named_modules())["conv2"].out_channels == 64


def test_missing_directory_names_the_apt_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEATURELENS_FASHION_MNIST_DIR", str(tmp_path / "absent"))
    fashion_mnist._load.cache_clear()
    with pytest.raises(FeaturelensError, match="apt-get install dataset-fashion-mnist"):
        load_fashion_mnist("test")
    fashion_mnist._load.cache_clear()
