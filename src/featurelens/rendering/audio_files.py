"""Writing an audio render: per unit a spectrogram PNG and the WAV made audible by Griffin-Lim, and render.json.

It imports no result type: it reads an audio render through the Protocols below, so imports run one way, result → files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from featurelens.output.folder_run import replacing, write_text_atomic
from featurelens.output.images import safe_filename, save_png
from featurelens.output.sound import write_wav
from featurelens.rendering.files import PREVIOUS_RENDER


class RenderedSoundLike(Protocol):
    """What the writer reads of one rendered unit (a `rendering.audio_result.RenderedSound`)."""

    unit: str
    waveform: np.ndarray  # float32 [samples]

    @property
    def image(self) -> np.ndarray: ...


class AudioRenderFigures(Protocol):
    """What the writer reads of an audio render (a `rendering.audio_result.AudioRenderResult`)."""

    sample_rate: int

    @property
    def units(self) -> Sequence[RenderedSoundLike]: ...

    def summary(self, names: list[str] | None = None) -> dict: ...


def write_audio_render(result: AudioRenderFigures, out_dir: Path) -> Path:
    """Write the result under `out_dir`, replacing a previous render there; returns render.json's path."""
    with replacing(out_dir, "render", legacy=PREVIOUS_RENDER):
        names = [f"{i:03d}_{safe_filename(u.unit)}.png" for i, u in enumerate(result.units)]
        for unit, name in zip(result.units, names):
            save_png(unit.image, out_dir / name)
            write_wav(out_dir / (name[:-4] + ".wav"), unit.waveform, result.sample_rate)
        path = write_text_atomic(out_dir / "render.json", json.dumps(result.summary(names), indent=2))
    return path
