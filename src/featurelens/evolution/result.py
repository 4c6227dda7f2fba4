"""What `evolve` returns: per unit, per checkpoint, its render and figures, and its dataset examples."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from featurelens.evolution.checkpoints import Checkpoint
from featurelens.evolution.files import write_evolution  # the writer reads this result by a Protocol: one way, result → files
from featurelens.output.images import same_size
from featurelens.results import TechniqueResult


@dataclass
class EvolvedCell:
    """One unit at one checkpoint. `image` uint8 [H, W, C]; `examples` the entry indices of its top-k inputs
    (best first; None for units that rank no examples) and `example_images` those inputs, uint8 [k, S, S, C]."""

    image: np.ndarray
    activation: float  # the unit on its own render at this checkpoint
    natural_max: float  # the unit's best bundled photo at this checkpoint
    examples: list[int] | None = None
    example_images: np.ndarray | None = field(default=None, repr=False)
    overlap_previous: float | None = None  # share of the top-k also in the previous checkpoint's top-k
    overlap_final: float | None = None  # share of the top-k also in the last checkpoint's top-k

    def summary(self) -> dict:
        return {
            "activation": self.activation, "natural_max": self.natural_max, "examples": self.examples,
            "overlap_previous": self.overlap_previous, "overlap_final": self.overlap_final,
        }


@dataclass
class UnitTimeline:
    """One unit across the checkpoints, one cell per checkpoint in order."""

    unit: str
    cells: list[EvolvedCell] = field(default_factory=list)


@dataclass
class EvolveResult(TechniqueResult):
    """The same units rendered (same seed) and ranked on the same data at every checkpoint, in training order."""

    model: str
    data: str
    k: int
    checkpoints: list[Checkpoint] = field(default_factory=list)
    units: list[UnitTimeline] = field(default_factory=list)
    seconds: float = 0.0
    interrupted: bool = False

    @property
    def images(self) -> np.ndarray:
        """uint8 [units × checkpoints, H, W, C]: each unit's renders in checkpoint order, unit after unit."""
        pictures = [cell.image for timeline in self.units for cell in timeline.cells]
        return same_size(pictures) if pictures else np.zeros((0, 0, 0, 3), np.uint8)

    def unit(self, address: str) -> UnitTimeline:
        return next(timeline for timeline in self.units if timeline.unit == address)

    def summary(self, png_names: dict | None = None) -> dict:
        """The evolution.json document: checkpoints, and per unit per checkpoint its figures."""
        names = png_names or {}
        return {
            "model": self.model,
            "data": self.data,
            "k": self.k,
            "checkpoints": [c.summary() for c in self.checkpoints],
            "units": [
                {"unit": t.unit, "cells": [{**cell.summary(), **names.get((t.unit, i), {})} for i, cell in enumerate(t.cells)]}
                for t in self.units
            ],
            "seconds": self.seconds,
            "interrupted": self.interrupted,
        }

    def save(self, path: str | Path) -> Path:
        """Write the renders, the example grids, evolution.json and the timeline page into the folder `path`; returns index.html."""
        return write_evolution(self, Path(path))
