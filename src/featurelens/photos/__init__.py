"""The natural photos that ship with featurelens' dependencies (scikit-image's sample data), offline.

They serve as the reference set for "how strongly does a real photo drive this unit", as the
source of the natural magnitude spectrum for MACO, and as the built-in data source `photos`.
"""

from __future__ import annotations

from functools import lru_cache

import torch
from PIL import Image

from featurelens.images import pil_to_tensor

# skimage.data loaders that ship with the wheel (others need a download and are never used).
_PHOTO_LOADERS = (
    "astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field", "immunohistochemistry",
    "retina", "camera", "coins", "moon", "clock", "page", "text", "grass", "gravel", "brick",
)
# What each bundled photo shows, in `bundled_photos()` order: the file names `featurelens samples` writes.
PHOTO_NAMES = (
    "astronaut", "cat", "coffee", "rocket", "galaxies", "tissue", "retina", "cameraman", "coins", "moon", "clock",
    "page", "text", "grass", "gravel", "brick", "motorcycle",
)


@lru_cache(maxsize=1)
def bundled_photos() -> tuple[Image.Image, ...]:
    """The bundled natural photos as RGB PIL images (greyscale ones converted)."""
    import skimage.data

    photos = [Image.fromarray(getattr(skimage.data, name)()).convert("RGB") for name in _PHOTO_LOADERS]
    photos.append(Image.fromarray(skimage.data.stereo_motorcycle()[0]).convert("RGB"))
    return tuple(photos)


def photo_batch(size: int, channels: int = 3) -> torch.Tensor:
    """All bundled photos as one [N, channels, size, size] float tensor in [0, 1] (centre squares)."""
    return torch.stack([pil_to_tensor(photo, channels, size) for photo in bundled_photos()])
