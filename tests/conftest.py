"""Shared, cached fixtures: the real pretrained models load once per test session."""

from __future__ import annotations

import pytest

from featurelens import load_model


@pytest.fixture(scope="session")
def lite0():
    """EfficientNet-Lite0 with its real ImageNet weights (the default model)."""
    return load_model("efficientnet-lite0")


@pytest.fixture(scope="session")
def fashion():
    """The project's own Fashion-MNIST CNN with its shipped trained weights."""
    return load_model("fashion-cnn")
