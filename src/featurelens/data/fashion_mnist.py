"""Fashion-MNIST from the Debian package `dataset-fashion-mnist`: 60 000 + 10 000 greyscale 28×28 images, 10 classes."""

from __future__ import annotations

import functools
import gzip
import os
from pathlib import Path

import numpy as np
import torch

from featurelens.errors import FeaturelensError

DEFAULT_DIR = "/usr/share/datasets/fashion-mnist"
ENV_VAR = "FEATURELENS_FASHION_MNIST_DIR"

FASHION_CLASSES: tuple[str, ...] = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)

_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
# IDX magic numbers: 0x0000 08 (unsigned byte) then the number of dimensions.
_IMAGES_MAGIC = 0x00000803
_LABELS_MAGIC = 0x00000801


def dataset_dir() -> Path:
    """The directory holding the gzipped IDX files (env var override, else the Debian location)."""
    return Path(os.environ.get(ENV_VAR) or DEFAULT_DIR)


def _read_idx(path: Path, magic: int) -> np.ndarray:
    """Parse one gzipped IDX file of unsigned bytes, checking its magic number and size."""
    data = gzip.decompress(path.read_bytes())
    found = int.from_bytes(data[:4], "big")
    if found != magic:
        raise FeaturelensError(f"{path} is not an IDX file of the expected kind (magic {found:#010x}, wanted {magic:#010x})")
    ndim = magic & 0xFF
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(shape)):
        raise FeaturelensError(f"{path} is truncated: {body.size} bytes of data for shape {shape}")
    return body.reshape(shape)


@functools.lru_cache(maxsize=None)
def _load(directory: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Parsed (images, labels) arrays, cached per process because decompressing takes about a second."""
    root = Path(directory)
    if not root.is_dir():
        raise FeaturelensError(f"Fashion-MNIST not found in {root}: run `apt-get install dataset-fashion-mnist` (or set {ENV_VAR})")
    images_name, labels_name = _FILES[split]
    images = _read_idx(root / images_name, _IMAGES_MAGIC)
    labels = _read_idx(root / labels_name, _LABELS_MAGIC)
    if len(images) != len(labels):
        raise FeaturelensError(f"Fashion-MNIST {split} split in {root} has {len(images)} images but {len(labels)} labels")
    return images, labels


def load_fashion_mnist(split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Images uint8 [N, 28, 28] and labels int64 [N] of the "train" (60 000) or "test" (10 000) split."""
    if split not in _FILES:
        raise FeaturelensError(f"unknown Fashion-MNIST split {split!r}: use 'train' or 'test'")
    images, labels = _load(str(dataset_dir()), split)
    return torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64))
