"""Projections as pictures people can see, the way the literature shows them.

A projection is centred (its median subtracted, so the untouched background stays mid-grey), scaled by a robust spread (the 99.5th percentile
of its absolute values, so a few extreme pixels don't leave everything else a faint grey) and
clipped: zero is mid-grey, the strongest 0.5 % saturate. The raw arrays stay available as `.npy`.
"""

from __future__ import annotations

import numpy as np

from featurelens.errors import FeaturelensError

SPREAD_PERCENTILE = 99.5


def projection_picture(array: np.ndarray) -> np.ndarray:
    """[C, H, W] projection (C = 1 or 3) → uint8 [H, W, C]: median at mid-grey, ±(99.5th percentile of |centred|) at 0 and 255."""
    if array.ndim != 3 or array.shape[0] not in (1, 3):
        raise FeaturelensError(f"a projection of shape {array.shape} cannot be shown as a picture: save it as .npy")
    centred = array.astype(np.float64) - np.median(array)
    magnitude = np.abs(centred)
    spread = float(np.percentile(magnitude, SPREAD_PERCENTILE))
    if spread <= 0:  # the signal sits on fewer pixels than the percentile covers: scale by its peak
        spread = float(magnitude.max())
    scaled = centred / spread if spread > 0 else np.zeros_like(centred)
    pixels = np.clip(np.rint(127.5 + 127.5 * scaled), 0, 255).astype(np.uint8)
    return pixels.transpose(1, 2, 0)


def projection_pictures(arrays: np.ndarray) -> np.ndarray:
    """[N, C, H, W] projections → uint8 [N, H, W, C], each scaled on its own."""
    if len(arrays) == 0:
        return np.zeros((0, 0, 0, 3), dtype=np.uint8)
    return np.stack([projection_picture(array) for array in arrays])
