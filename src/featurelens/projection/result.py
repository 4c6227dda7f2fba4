"""What `project` returns: one projection per (image, unit) pair, raw and as pictures."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from featurelens.errors import FeaturelensError
from featurelens.projection.files import write_projections  # the writer reads this result by a Protocol: one way, result → files
from featurelens.projection.pictures import projection_pictures
from featurelens.results import TechniqueResult


@dataclass
class ProjectionResult(TechniqueResult):
    """Projections of units back to the input.

    arrays: float32 [N, C, H, W] in the model's (normalised) input space. For deconvnet each
    reconstructs its activation (seeded with its value, as in Zeiler & Fergus); for guided and
    gradient it is the derivative of the unit with respect to the input. `units` are the addresses
    used (with the position chosen, e.g. `conv3:5@2,1`), `positions` those (y, x) (None for [C]
    layers such as logits), `activations` the units' values, `image_index` which input each used.
    """

    arrays: np.ndarray
    units: list[str]
    positions: list[tuple[int, int] | None]
    activations: np.ndarray
    image_index: np.ndarray
    method: str
    inputs: np.ndarray = field(repr=False, default_factory=lambda: np.zeros((0, 0, 0, 3), np.uint8))  # uint8 [B, H, W, C]
    seconds: float = 0.0
    interrupted: bool = False

    @property
    def images(self) -> np.ndarray:
        """uint8 [N, H, W, C]: each projection centred, scaled by its 99.5th-percentile spread, clipped."""
        return projection_pictures(self.arrays)

    def __len__(self) -> int:
        return len(self.arrays)

    def _only(self, what: str):
        if len(self.arrays) != 1:
            raise FeaturelensError(f".{what} is for a single projection; this result has {len(self.arrays)}: use .{what}s")
        return 0

    @property
    def array(self) -> np.ndarray:
        """The single projection's [C, H, W] array (a result of one projection)."""
        return self.arrays[self._only("array")]

    @property
    def unit(self) -> str:
        return self.units[self._only("unit")]

    @property
    def position(self) -> tuple[int, int] | None:
        return self.positions[self._only("position")]

    @property
    def activation(self) -> float:
        return float(self.activations[self._only("activation")])

    def summary(self) -> dict:
        return {
            "method": self.method,
            "projections": [
                {"unit": unit, "image": int(image), "position": list(position) if position else None, "activation": float(value)}
                for unit, image, position, value in zip(self.units, self.image_index, self.positions, self.activations)
            ],
            "seconds": self.seconds,
            "interrupted": self.interrupted,
        }

    def save(self, path: str | Path) -> Path:
        """One projection to `x.png` (picture) or `x.npy` (raw array); otherwise a folder of both plus projections.json."""
        return write_projections(self, Path(path))
