"""What a render returns: the images and the figures that say how well each one drives its unit."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


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
class RenderResult:
    units: list[RenderedUnit] = field(default_factory=list)
    seconds: float = 0.0
    steps: int = 0
    interrupted: bool = False

    @property
    def images(self) -> list[np.ndarray]:
        return [u.image for u in self.units]

    def summary(self, png_names: list[str] | None = None) -> dict:
        """The render.json document: {"units": [...], "seconds": ...}."""
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
