"""The average magnitude spectrum of natural photos in decorrelated colour, which MACO keeps fixed.

Reference MACO code downloads a precomputed ImageNet spectrum; here it is computed from the
bundled photos (or any image batch) and cached per size.
"""

from __future__ import annotations

from functools import lru_cache

import torch

from featurelens.photos import photo_batch
from featurelens.rendering.color import rgb_to_decorrelated


def magnitude_spectrum(images: torch.Tensor) -> torch.Tensor:
    """Mean |rfft2| over a batch of [N, C, H, W] images in [0, 1], in decorrelated colour: [C, H, W//2+1]."""
    centred = images - images.mean(dim=(2, 3), keepdim=True)
    decorrelated = rgb_to_decorrelated(centred)
    return torch.fft.rfft2(decorrelated).abs().mean(0)


@lru_cache(maxsize=8)
def natural_magnitude(size: int, channels: int = 3) -> torch.Tensor:
    """Cached natural magnitude spectrum of the bundled photos at `size`."""
    return magnitude_spectrum(photo_batch(size, channels))
