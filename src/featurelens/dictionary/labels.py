"""The class label of each entry of a data source, where the source has them (the built-in Fashion-MNIST splits)."""

from __future__ import annotations

from typing import Any

import torch

from featurelens.data.fashion_mnist import load_fashion_mnist
from featurelens.data.sources import ImageSource


def labels_of(data: Any) -> torch.Tensor | None:
    """Labels int64 [entries] of `data` ("fashion-mnist:train" / "fashion-mnist:test", or a source of that name),
    else None: accuracy and purity need them, the other figures do not."""
    name = data.name if isinstance(data, ImageSource) else data if isinstance(data, str) else None
    if name in ("fashion-mnist:train", "fashion-mnist:test"):
        return load_fashion_mnist(name.partition(":")[2])[1]
    return None
