"""Reading the user's images: any file Pillow opens, as a [1, C, H, W] float tensor in [0, 1]."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError

from featurelens.errors import FeaturelensError


def load_image(path: str | Path, channels: int, size: int | None = None) -> torch.Tensor:
    """Load an image as [1, channels, H, W] in [0, 1]; `size` resizes to size x size, None keeps the original size."""
    if channels not in (1, 3):
        raise FeaturelensError(f"images can be read with 1 or 3 channels, not {channels}")
    file = Path(path)
    if not file.is_file():
        raise FeaturelensError(f"image {str(file)!r} not found: give the path of a PNG or JPEG file")
    try:
        with Image.open(file) as opened:
            image = opened.convert("RGB" if channels == 3 else "L")
    except (UnidentifiedImageError, OSError, ValueError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise FeaturelensError(f"cannot read image {str(file)!r} ({reason}): give a PNG or JPEG file") from None
    if size is not None:
        image = image.resize((size, size), Image.BILINEAR)
    array = np.asarray(image, dtype=np.float32) / 255
    tensor = torch.from_numpy(array.copy())
    return tensor.permute(2, 0, 1)[None] if channels == 3 else tensor[None, None]


def resize_square(images: torch.Tensor, size: int) -> torch.Tensor:
    """Centre-crop [B, C, H, W] to a square and resize to size × size (bilinear, antialiased)."""
    height, width = images.shape[-2:]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    images = images[..., top : top + side, left : left + side]
    if side == size:
        return images.contiguous()
    return F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False, antialias=side > size).clamp_(0, 1)
