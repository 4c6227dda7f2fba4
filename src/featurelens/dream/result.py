"""What a dream returns: the image, each octave's result and the objective's trajectory."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch


def to_pixels(image: torch.Tensor) -> np.ndarray:
    """[1, C, H, W] float in [0, 1] → uint8 [H, W, C]."""
    return (image[0].detach().clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()


@dataclass
class OctaveTrace:
    """One octave: its image size, the objective at each step (on the jittered image) and its result."""

    size: tuple[int, int]  # (height, width)
    values: list[float]
    image: torch.Tensor  # [1, C, h, w] in [0, 1], CPU


@dataclass
class DreamResult:
    """The dreamed image ([1, C, H, W] in [0, 1], CPU, the input's size) and how the objective rose."""

    image: torch.Tensor
    objective: str
    initial_value: float  # objective on the input image at full size
    final_value: float  # objective on the dreamed image at full size
    octaves: list[OctaveTrace] = field(default_factory=list)
    seconds: float = 0.0
    interrupted: bool = False

    @property
    def pixels(self) -> np.ndarray:
        """The dreamed image as uint8 [H, W, C]."""
        return to_pixels(self.image)

    @property
    def step_values(self) -> list[float]:
        """The objective at every step, octave after octave."""
        return [v for octave in self.octaves for v in octave.values]

    def summary(self) -> dict:
        return {
            "objective": self.objective,
            "initial_value": self.initial_value,
            "final_value": self.final_value,
            "octaves": [{"size": list(o.size), "values": o.values} for o in self.octaves],
            "seconds": self.seconds,
            "interrupted": self.interrupted,
        }
