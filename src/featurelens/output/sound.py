"""Sound files: a waveform written as a 16-bit WAV (a grown sound as loud as it was heard without clipping)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_wav(path: Path, waveform: np.ndarray, sample_rate: int, fit: bool = True) -> None:
    """A sound as a 16-bit WAV. `fit`: a grown sound is written as heard, unless that would clip, then scaled to just
    below full scale; otherwise (recorded clips) it is written as it was, clipped to full scale."""
    import soundfile  # the audio extra: only sound writers need it

    if fit:
        peak = max(float(np.abs(waveform).max()), 1e-9)
        waveform = waveform / max(1.0, peak / 0.99)
    soundfile.write(str(path), np.clip(waveform, -1.0, 1.0), sample_rate, subtype="PCM_16")
