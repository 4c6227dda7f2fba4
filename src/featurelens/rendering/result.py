"""What a render returns: the images and the figures that say how well each one drives its unit."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from featurelens.output.images import same_size
from featurelens.rendering.files import write_render  # the writer reads this result by a Protocol: one way, result → files
from featurelens.rendering.judging import Judgement
from featurelens.results import TechniqueResult


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

    @property
    def images(self) -> np.ndarray:
        """uint8 [N, H, W, C], one image per rendered unit (images rendered smaller are scaled up to the largest)."""
        return same_size([u.image for u in self.units]) if self.units else np.zeros((0, 0, 0, 3), np.uint8)

    def summary(self, png_names: list[str] | None = None) -> dict:
        """The render.json document: {"units": [...], "model", "size", "judges", "data", "seconds", "steps", "interrupted"}."""
        names = png_names or [None] * len(self.units)
        return {
            "units": [
                {
                    "unit": u.unit,
                    "png": name,
                    "size": u.size,
                    "size_reason": u.size_reason,
                    "param_size": u.param_size,
                    "objective": u.objective,
                    "activation": u.activation,
                    "robust_activation": u.robust_activation,
                    "robustness": u.robustness,
                    "natural_max": u.natural_max,
                    "data_best": u.data_best,
                    "data_best_item": u.data_best_item,
                    "beats_data": u.beats_data,
                    "retry": u.retry,
                    "activation_at": {str(side): value for side, value in sorted({u.size: u.activation, **u.shown_at}.items())},
                    **({"judges": {spec: j.summary() for spec, j in u.judged.items()}} if u.judged else {}),
                }
                for u, name in zip(self.units, names)
            ],
            "model": self.model,
            "size": self.size,
            "judges": self.judges,
            "data": self.data,
            **({"data_note": self.data_note} if self.data_note else {}),
            "below_data": sum(1 for u in self.units if u.beats_data is False),
            "seconds": self.seconds,
            "against_data_seconds": self.against_data_seconds,
            "steps": self.steps,
            "interrupted": self.interrupted,
        }

    def save(self, path: str | Path) -> Path:
        """Write one PNG per image, a contact sheet and render.json into the folder `path`; returns render.json's path."""
        folder = Path(path)
        write_render(self, folder)
        return folder / "render.json"
