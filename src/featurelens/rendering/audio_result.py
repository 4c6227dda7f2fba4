"""What an audio render returns: per unit the grown log-mel, its sound, and how strongly each drives the unit."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from featurelens.rendering.audio_files import write_audio_render  # the writer reads this result by a Protocol: one way, result → files
from featurelens.output.spectrogram import spectrogram_picture
from featurelens.results import TechniqueResult


@dataclass
class RenderedSound:
    """One rendered unit. Values are the unit expression's: on the optimised log-mel, on its sound (Griffin-Lim) fed
    back through the front end, and on white noise of the same loudness (mean of 4)."""

    unit: str
    log_mel: np.ndarray  # [bands, frames]
    waveform: np.ndarray  # float32 [samples] at the model's sample rate
    activation: float
    heard: float
    noise: float
    rms: float  # the sound's loudness (the noise's too)

    @property
    def image(self) -> np.ndarray:
        """The spectrogram as a picture, uint8 [H, W, 3] (low bands at the bottom)."""
        return spectrogram_picture(self.log_mel)


@dataclass
class AudioRenderResult(TechniqueResult):
    """Every rendered sound, in the order of the units."""

    units: list[RenderedSound] = field(default_factory=list)
    model: str = ""
    sample_rate: int = 16000
    seconds: float = 0.0
    steps: int = 0
    interrupted: bool = False

    @property
    def images(self) -> np.ndarray:
        """uint8 [N, H, W, 3]: each unit's spectrogram picture."""
        return np.stack([u.image for u in self.units]) if self.units else np.zeros((0, 0, 0, 3), np.uint8)

    def summary(self, names: list[str] | None = None) -> dict:
        """The render.json document."""
        names = names or [None] * len(self.units)
        return {
            "units": [{"unit": u.unit, "png": name, "wav": name and name[:-4] + ".wav", "activation": u.activation,
                       "heard": u.heard, "noise_of_equal_loudness": u.noise, "rms": u.rms} for u, name in zip(self.units, names)],
            "model": self.model, "modality": "audio", "sample_rate": self.sample_rate, "seconds": self.seconds,
            "steps": self.steps, "interrupted": self.interrupted,
        }

    def save(self, path: str | Path) -> Path:
        """Write a spectrogram PNG and a WAV per unit, and render.json, into the folder `path`; returns render.json's path."""
        return write_audio_render(self, Path(path))
