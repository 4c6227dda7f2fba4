"""Dataset-examples tests: one torch thread (small batches are dominated by thread hand-offs on a busy 2-core box),
Models come from the session fixtures in tests/conftest.py."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from PIL import Image

from featurelens.data import fashion_mnist
from featurelens.data.fashion_mnist import load_fashion_mnist


@pytest.fixture(autouse=True)
def single_threaded(one_thread) -> None:
    """Every test here runs torch on one thread (tests/conftest.py)."""


@pytest.fixture
def fashion_data() -> None:
    if not fashion_mnist.dataset_dir().is_dir():
        pytest.skip("apt-get install dataset-fashion-mnist")


def fashion_files(root: Path, count: int, path_of: Callable[[int], str]) -> Path:
    """The first `count` Fashion-MNIST test images saved under `root` as `path_of(i)` (the suffix picks the format)."""
    if not fashion_mnist.dataset_dir().is_dir():
        pytest.skip("apt-get install dataset-fashion-mnist")
    images, _ = load_fashion_mnist("test")
    for i in range(count):
        path = root / path_of(i)
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.asarray(images[i])).save(path)
    return root
