"""Frames from the browser: JPEG or PNG bytes → the model's input, [1, C, S, S] in [0, 1] (centre square)."""

from __future__ import annotations

import io

import torch
from PIL import Image, UnidentifiedImageError

from featurelens.errors import FeaturelensError, error_reason
from featurelens.images import WEB_FORMATS, decoded_image, pil_to_tensor

MAX_SENT_PIXELS = 4096 * 4096  # a frame or an upload from the page (16.8 M; frames are the model's input size)
_NAMES = "JPEG, PNG, WebP, GIF, BMP"


def open_image_bytes(data: bytes, what: str = "frame") -> Image.Image:
    """A loaded PIL image (the first frame) from encoded bytes of at most `MAX_SENT_PIXELS`, or a one-line error
    saying what is wrong with it in words."""
    try:
        with decoded_image(io.BytesIO(data), f"the {what}", MAX_SENT_PIXELS, "send a smaller image", WEB_FORMATS) as image:
            return image.copy()
    except FeaturelensError:
        raise
    except UnidentifiedImageError:
        raise FeaturelensError(f"the {what} is not an image in a format this server reads ({_NAMES})") from None
    except Exception as err:  # anything a decoder says about broken bytes: one line, never a dead connection
        raise FeaturelensError(f"the {what} is not an image this server can decode ({error_reason(err)}): send a "
                               f"{_NAMES} file") from None


def decode_frame(data: bytes, channels: int, size: int) -> torch.Tensor:
    """Encoded frame bytes as the model sees them: [1, channels, size, size] in [0, 1]."""
    image = open_image_bytes(data)
    try:
        return pil_to_tensor(image, channels, size)[None]
    except Exception as err:  # e.g. broken EXIF: the connection's model thread must get a one-line error
        raise FeaturelensError(f"the frame cannot be read ({error_reason(err)}): send a {_NAMES} file") from None
