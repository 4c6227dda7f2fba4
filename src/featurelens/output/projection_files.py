"""Writing a projection: a PNG normalised as in Zeiler & Fergus (grey = 0, scaled by max |value|) or the raw .npy array."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from featurelens.errors import FeaturelensError
from featurelens.output.images import save_png
from featurelens.project.projection import Projection

SUFFIXES = (".png", ".npy")


def check_projection_path(path: Path) -> Path:
    """The path, or an error when its extension is neither .png nor .npy (checked before any work is done)."""
    if path.suffix.lower() not in SUFFIXES:
        raise FeaturelensError(f"cannot write a projection to {str(path)!r}: end --out with .png (picture) or .npy (raw array)")
    return path


def projection_picture(array: np.ndarray) -> np.ndarray:
    """[C, H, W] projection (C = 1 or 3) → uint8 [H, W, C] with 0 at mid-grey and the largest |value| at 0 or 255."""
    if array.ndim != 3 or array.shape[0] not in (1, 3):
        raise FeaturelensError(f"a projection of shape {array.shape} cannot be shown as a picture: save it as .npy")
    peak = float(np.abs(array).max())
    scaled = array / peak if peak > 0 else np.zeros_like(array)
    pixels = np.clip(np.rint(127.5 + 127.5 * scaled), 0, 255).astype(np.uint8)
    return pixels.transpose(1, 2, 0)


def write_projection(projection: Projection, path: Path) -> Path:
    """Write `projection` to `path`: .png picture or .npy float32 [C, H, W] array."""
    check_projection_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".npy":
        np.save(path, projection.array.astype(np.float32))
        return path
    return save_png(projection_picture(projection.array), path)
