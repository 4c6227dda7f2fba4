"""`FashionCNN`: a small plain conv/ReLU/max-pool network for Fashion-MNIST, with trained weights in the package."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from featurelens.data.fashion_mnist import FASHION_CLASSES
from featurelens.models.loaded import LoadedModel
from featurelens.models.registry import register_model
from featurelens.models.shipped import checkpoints_in, packaged, with_shipped_weights

# Statistics of the Fashion-MNIST training images in [0, 1] units.
FASHION_MEAN = (0.2860,)
FASHION_STD = (0.3530,)
WEIGHTS_FILE = "weights/fashion_cnn.pt"
SEED1_WEIGHTS_FILE = "weights/fashion_cnn_seed1.pt"  # the same recipe from seed 1: an independent judge
TRAINING_CHECKPOINTS = "weights/fashion_cnn_training"  # init, four points in epoch 1, each epoch end
POOL2_INVERTER = "weights/fashion_cnn_pool2_inverter.pt"  # `featurelens invert train` recipe in README
# Both weight files and the checkpoints come from scripts/train_fashion_cnn.py (its docstring has the commands).


class FashionCNN(nn.Module):
    """Three conv/ReLU/max-pool stages and a linear classifier; input [B, 1, 28, 28] normalised, output logits [B, 10].

    Only plain Conv2d, ReLU and MaxPool2d layers, each a named submodule, so units are addressable
    by dotted names (`conv2`, `relu3`) and deconvnet projection can invert every layer.
    """

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2)  # 28 -> 14
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool2d(2)  # 14 -> 7
        self.conv3 = nn.Conv2d(64, 128, 3, padding=1)
        self.relu3 = nn.ReLU()
        self.pool3 = nn.MaxPool2d(2)  # 7 -> 3
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(128 * 3 * 3, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool1(self.relu1(self.conv1(x)))
        x = self.pool2(self.relu2(self.conv2(x)))
        x = self.pool3(self.relu3(self.conv3(x)))
        return self.fc(self.flatten(x))


def build_fashion_cnn(weights: bool = True, file: str = WEIGHTS_FILE) -> FashionCNN:
    """A `FashionCNN`, with the shipped trained weights (`file`, inside the package) loaded strictly unless `weights=False`."""
    return with_shipped_weights(FashionCNN(), file) if weights else FashionCNN().eval()


@register_model("fashion-cnn")
def loaded_fashion_cnn() -> LoadedModel:
    """The built-in spec `fashion-cnn`: the trained `FashionCNN`, its greyscale 28×28 input conventions,
    the layer DeepDream amplifies, the inverter shipped for `pool2` and the checkpoints of its training."""
    return _loaded("fashion-cnn", WEIGHTS_FILE, inverters={"pool2": packaged(POOL2_INVERTER)}, training_checkpoints=packaged(TRAINING_CHECKPOINTS))


@register_model("fashion-cnn-seed1")
def loaded_fashion_cnn_seed1() -> LoadedModel:
    """The built-in spec `fashion-cnn-seed1`: `fashion-cnn`'s recipe trained from seed 1, to judge fashion-cnn's images."""
    return _loaded("fashion-cnn-seed1", SEED1_WEIGHTS_FILE)


def _loaded(spec: str, weights: str, **knowledge) -> LoadedModel:
    return LoadedModel(
        build_fashion_cnn(file=weights), spec, input_size=28, in_channels=1, mean=FASHION_MEAN, std=FASHION_STD,
        class_names=list(FASHION_CLASSES), min_size=28, dream_layer="relu2", data="fashion-mnist:test", **knowledge,
    )


def shipped_training_checkpoints() -> list[Path]:
    """The shipped checkpoints of fashion-cnn's training, in training order (`stepNNNN.pt`: init first, the model last)."""
    return checkpoints_in(TRAINING_CHECKPOINTS)
