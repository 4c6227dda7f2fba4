"""The natural photos that ship with featurelens' dependencies (scikit-image's sample data), offline.

They serve as the reference set for "how strongly does a real photo drive this unit" and as the
source of the natural magnitude spectrum for MACO.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from PIL import Image

# skimage.data loaders that ship with the wheel (others need a download and are never used).
_PHOTO_LOADERS = (
    "astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field", "immunohistochemistry",
    "retina", "camera", "coins", "moon", "clock", "page", "text", "grass", "gravel", "brick",
)


@lru_cache(maxsize=1)
def bundled_photos() -> tuple[Image.Image, ...]:
    """The bundled natural photos as RGB PIL images (greyscale ones converted)."""
    import skimage.data

    photos = [Image.fromarray(getattr(skimage.data, name)()).convert("RGB") for name in _PHOTO_LOADERS]
    photos.append(Image.fromarray(skimage.data.stereo_motorcycle()[0]).convert("RGB"))
    return tuple(photos)


def center_square(image: Image.Image, size: int) -> Image.Image:
    """Centre crop to a square, then resize to size × size."""
    width, height = image.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    return image.crop((left, top, left + side, top + side)).resize((size, size), Image.BILINEAR)


def photo_batch(size: int, channels: int = 3) -> torch.Tensor:
    """All bundled photos as one [N, channels, size, size] float tensor in [0, 1]."""
    mode = "RGB" if channels == 3 else "L"
    arrays = [np.asarray(center_square(p, size).convert(mode), dtype=np.float32) / 255 for p in bundled_photos()]
    batch = torch.from_numpy(np.stack(arrays))
    return batch.permute(0, 3, 1, 2) if channels == 3 else batch[:, None]
