"""What a dream returns: the dreamed photos, each octave's result and the objective's trajectory."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from featurelens.images import to_pixels
from featurelens.deepdream.files import write_dream  # the writer reads this result by a Protocol: one way, result → files
from featurelens.results import TechniqueResult


@dataclass
class OctaveTrace:
    """One octave: its image size, the objective at each step (on the jittered images, mean over the batch) and its result."""

    size: tuple[int, int]  # (height, width)
    values: list[float]
    image: torch.Tensor  # [B, C, h, w] in [0, 1], CPU


@dataclass
class DreamResult(TechniqueResult):
    """The dreamed photos (`image`: float [B, C, H, W] in [0, 1], CPU, the input's size) and how the objective rose.

    `initial_values` / `final_values` are each photo's objective at full size before and after.
    """

    image: torch.Tensor
    objective: str
    initial_values: list[float]
    final_values: list[float]
    octaves: list[OctaveTrace] = field(default_factory=list)
    seconds: float = 0.0
    interrupted: bool = False

    @property
    def images(self) -> np.ndarray:
        """The dreamed photos as uint8 [B, H, W, C]."""
        return to_pixels(self.image)

    @property
    def initial_value(self) -> float:
        """The objective on the input (the mean over the batch)."""
        return float(np.mean(self.initial_values))

    @property
    def final_value(self) -> float:
        """The objective on the dream (the mean over the batch)."""
        return float(np.mean(self.final_values))

    def summary(self) -> dict:
        return {
            "objective": self.objective,
            "initial_value": self.initial_value,
            "final_value": self.final_value,
            "initial_values": self.initial_values,
            "final_values": self.final_values,
            "octaves": [{"size": list(o.size), "values": o.values} for o in self.octaves],
            "seconds": self.seconds,
            "interrupted": self.interrupted,
        }

    def save(self, path: str | Path, octaves: bool = False) -> Path:
        """Write the dream to `path` (a .png; one PNG per photo in a folder for several); `octaves` adds each octave's picture and a JSON trace."""
        return write_dream(self, Path(path), octaves)[0]
