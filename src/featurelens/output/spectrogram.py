"""Spectrograms as pictures: a log-mel [bands, frames] → uint8 [H, W, 3], low bands at the bottom, in a dark-to-bright map."""

from __future__ import annotations

import numpy as np

# An inferno-like colour map: black, purple, red, orange, pale yellow (perceptually ordered, readable in grey).
_ANCHORS = np.array([[0, 0, 4], [87, 16, 110], [188, 55, 84], [249, 142, 9], [252, 255, 164]], np.float32)
DYNAMIC_RANGE = 8.0  # natural-log units of power shown below the clip's loudest bin (≈ 35 dB)


def spectrogram_picture(log_mel: np.ndarray, row_height: int = 2) -> np.ndarray:
    """uint8 [bands × row_height, frames, 3]: each clip scaled to its own loudest bin, `DYNAMIC_RANGE` below it black."""
    if np.ndim(log_mel) != 2:
        raise ValueError(f"a spectrogram picture needs [bands, frames], got shape {np.shape(log_mel)}")
    values = np.asarray(log_mel, dtype=np.float32)[::-1]
    top = max(float(values.max()), float(values.min()) + DYNAMIC_RANGE)  # a flat (silent) clip shows black
    level = np.clip((values - (top - DYNAMIC_RANGE)) / DYNAMIC_RANGE, 0.0, 1.0) * (len(_ANCHORS) - 1)
    low = np.minimum(level.astype(np.int64), len(_ANCHORS) - 2)
    fraction = (level - low)[..., None]
    colours = _ANCHORS[low] * (1 - fraction) + _ANCHORS[low + 1] * fraction
    return np.repeat(colours.round().astype(np.uint8), row_height, axis=0)
