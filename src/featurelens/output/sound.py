"""Sound files: a waveform written as a 16-bit WAV, as loud as it was heard without clipping."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_wav(path: Path, waveform: np.ndarray, sample_rate: int) -> None:
    """A grown sound as a 16-bit WAV: written as heard, unless that would clip, then scaled to just below full scale."""
    import soundfile  # the audio extra: only sound writers need it

    peak = max(float(np.abs(waveform).max()), 1e-9)
    soundfile.write(str(path), waveform / max(1.0, peak / 0.99), sample_rate, subtype="PCM_16")
