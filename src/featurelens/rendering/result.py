"""What a render returns: the images (an audio model's: spectrograms and their sound) and the figures that say how
well each one drives its unit."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from featurelens.output.images import same_size
from featurelens.rendering.files import write_render  # the writer reads this result by a Protocol: one way, result → files
from featurelens.rendering.judging import Judgement
from featurelens.results import TechniqueResult


@dataclass
class Sound:
    """What an audio model's render adds to its picture. Values are the unit expression's: on its sound (Griffin-Lim)
    fed back through the front end, and on white noise of the same loudness (mean of 4)."""

    log_mel: np.ndarray  # [bands, frames]: what the picture shows
    waveform: np.ndarray  # float32 [samples] at the render's sample rate
    heard: float
    noise: float
    rms: float  # the sound's loudness (the noise's too)

    def summary(self) -> dict:
        return {"heard": self.heard, "noise_of_equal_loudness": self.noise, "rms": self.rms}


@dataclass
class RenderedUnit:
    """One optimised image. `image` is uint8 [H, W, C]; figures are the unit expression's values."""

    unit: str
    image: np.ndarray
    objective: float  # what the optimiser maximised at its last step (unit value minus priors)
    activation: float  # the unit on the final image, untransformed
    robust_activation: float  # mean of the unit over 16 random transforms of the final image
    natural_max: float  # the unit's maximum over the bundled natural photos (at the render size; set by the plan)
    size: int = 0  # the side the network saw the image at while optimising it
    size_reason: str = ""  # why that size ("given", or the automatic choice's reason)
    param_size: int = 0  # the side of its parameterization (smaller than `size` when resampled up to it)
    judged: dict[str, Judgement] = field(default_factory=dict)  # judge spec → its figures for this image
    data_best: float | None = None  # the unit's highest value over the render's data (`RenderResult.data`)
    data_best_item: int | None = None  # the index of the data's item that gives `data_best`
    beats_data: bool | None = None  # whether `activation` reaches `data_best` (None: not compared)
    retry: str | None = None  # what rendered this image when the first attempt lost to the data
    shown_at: dict[int, float] = field(default_factory=dict)  # side → the unit on the image resized to it (128 px, the model's size)
    sound: Sound | None = None  # an audio model's render: the image is its spectrogram, this its sound

    def summary(self, png: str | None) -> dict:
        """The unit's entry in render.json (an audio unit's: its WAV and how it sounds to the unit)."""
        if self.sound is not None:
            return {"unit": self.unit, "png": png, "wav": png and png[:-4] + ".wav", "activation": self.activation,
                    **self.sound.summary()}
        return {
            "unit": self.unit,
            "png": png,
            "size": self.size,
            "size_reason": self.size_reason,
            "param_size": self.param_size,
            "objective": self.objective,
            "activation": self.activation,
            "robust_activation": self.robust_activation,
            "robustness": self.robustness,
            "natural_max": self.natural_max,
            "data_best": self.data_best,
            "data_best_item": self.data_best_item,
            "beats_data": self.beats_data,
            "retry": self.retry,
            "activation_at": {str(side): value for side, value in sorted({self.size: self.activation, **self.shown_at}.items())},
            **({"judges": {spec: j.summary() for spec, j in self.judged.items()}} if self.judged else {}),
        }

    @property
    def robustness(self) -> float | None:
        """The share of the activation that survives random jitter, scale and rotation (None when the activation is not positive)."""
        return self.robust_activation / self.activation if self.activation > 0 else None


@dataclass
class RenderResult(TechniqueResult):
    """Every rendered image with its figures, in the order of the units."""

    units: list[RenderedUnit] = field(default_factory=list)
    seconds: float = 0.0
    steps: int = 0
    interrupted: bool = False
    size: int | str = 0  # the size setting: pixels, or "auto"
    judges: list[str] = field(default_factory=list)
    model: str = ""  # the spec of the model rendered
    data: str | None = None  # the data source every image was held against (`rendering.against_data`)
    data_note: str = ""  # why it is not the one asked for, if so
    against_data_seconds: float = 0.0  # the data's best (a pass, or the cache) and the retries of images that lost to it
    sample_rate: int | None = None  # an audio model's render: the rate of every unit's sound (None: images)

    @property
    def images(self) -> np.ndarray:
        """uint8 [N, H, W, C], one image per rendered unit (images rendered smaller are scaled up to the largest)."""
        return same_size([u.image for u in self.units]) if self.units else np.zeros((0, 0, 0, 3), np.uint8)

    def summary(self, png_names: list[str] | None = None) -> dict:
        """The render.json document: {"units": [...], "model", "size", "judges", "data", "seconds", "steps", "interrupted"}
        (an audio render's: "modality" and "sample_rate" in place of size, judges and data)."""
        names = png_names or [None] * len(self.units)
        units = [u.summary(name) for u, name in zip(self.units, names)]
        timing = {"seconds": self.seconds, "steps": self.steps, "interrupted": self.interrupted}
        if self.sample_rate is not None:
            return {"units": units, "model": self.model, "modality": "audio", "sample_rate": self.sample_rate, **timing}
        return {
            "units": units,
            "model": self.model,
            "size": self.size,
            "judges": self.judges,
            "data": self.data,
            **({"data_note": self.data_note} if self.data_note else {}),
            "below_data": sum(1 for u in self.units if u.beats_data is False),
            "against_data_seconds": self.against_data_seconds,
            **timing,
        }

    def save(self, path: str | Path) -> Path:
        """Write one PNG (and WAV, for a sound) per unit, a contact sheet and render.json into the folder `path`; returns
        render.json's path."""
        folder = Path(path)
        write_render(self, folder)
        return folder / "render.json"
