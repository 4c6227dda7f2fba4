"""What a render returns: the images and the figures that say how well each one drives its unit."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from featurelens.output.render_files import write_render
from featurelens.results import TechniqueResult


@dataclass
class RenderedUnit:
    """One optimised image. `image` is uint8 [H, W, C]; figures are the unit expression's values."""

    unit: str
    image: np.ndarray
    objective: float  # what the optimiser maximised at its last step (unit value minus priors)
    activation: float  # the unit on the final image, untransformed
    robust_activation: float  # mean of the unit over 16 random transforms of the final image
    natural_max: float  # the unit's maximum over the bundled natural photos


@dataclass
class RenderResult(TechniqueResult):
    """Every rendered image with its figures, in the order of the units."""

    units: list[RenderedUnit] = field(default_factory=list)
    seconds: float = 0.0
    steps: int = 0
    interrupted: bool = False

    @property
    def images(self) -> np.ndarray:
        """uint8 [N, H, W, C], one image per rendered unit."""
        return np.stack([u.image for u in self.units]) if self.units else np.zeros((0, 0, 0, 3), np.uint8)

    def summary(self, png_names: list[str] | None = None) -> dict:
        """The render.json document: {"units": [...], "seconds", "steps", "interrupted"}."""
        names = png_names or [None] * len(self.units)
        return {
            "units": [
                {
                    "unit": u.unit,
                    "png": name,
                    "objective": u.objective,
                    "activation": u.activation,
                    "robust_activation": u.robust_activation,
                    "natural_max": u.natural_max,
                }
                for u, name in zip(self.units, names)
            ],
            "seconds": self.seconds,
            "steps": self.steps,
            "interrupted": self.interrupted,
        }

    def save(self, path: str | Path) -> Path:
        """Write one PNG per image, a contact sheet and render.json into the folder `path`; returns render.json's path."""
        folder = Path(path)
        write_render(self, folder)
        return folder / "render.json"
