"""Frames from the browser: JPEG or PNG bytes → the model's input, [1, C, S, S] in [0, 1] (centre square)."""

from __future__ import annotations

import io

import torch
from PIL import Image, UnidentifiedImageError

from featurelens.errors import FeaturelensError
from featurelens.images import pil_to_tensor


def open_image_bytes(data: bytes, what: str = "frame") -> Image.Image:
    """A loaded PIL image from encoded bytes, or a one-line error saying it is not an image."""
    try:
        with Image.open(io.BytesIO(data)) as opened:
            opened.load()
            return opened.copy()
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise FeaturelensError(f"the {what} is not an image ({reason}): send a JPEG, PNG or WebP") from None


def decode_frame(data: bytes, channels: int, size: int) -> torch.Tensor:
    """Encoded frame bytes as the model sees them: [1, channels, size, size] in [0, 1]."""
    return pil_to_tensor(open_image_bytes(data), channels, size)[None]
