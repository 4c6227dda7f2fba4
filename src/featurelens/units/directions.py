"""Direction units (`LAYER:dir=v.npy`): a vector over a layer's channels, read once per file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from featurelens.errors import FeaturelensError


@lru_cache(maxsize=64)
def load_direction(path: str) -> np.ndarray:
    """A direction vector over a layer's channels, from a .npy file (flattened to 1-D)."""
    file = Path(path)
    if not file.is_file():
        raise FeaturelensError(f"direction file {path!r} not found: save one with numpy.save")
    try:
        return np.load(file).astype(np.float32).reshape(-1)
    except (ValueError, OSError) as err:
        raise FeaturelensError(f"direction file {path!r} is not a readable .npy array ({err})") from None


def unit_direction(path: str, like: torch.Tensor) -> torch.Tensor:
    """The direction of `path` as a unit-length vector with the dtype and device of `like`."""
    direction = torch.as_tensor(load_direction(path), dtype=like.dtype, device=like.device)
    return direction / direction.norm().clamp_min(1e-12)
