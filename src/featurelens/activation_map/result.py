"""What an activation atlas returns: the points and their layout, the filled cells with their renders, the class
view and the dictionary's features placed on the map."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from featurelens.activation_map.files import write_map
from featurelens.activation_map.layout import grid_cells
from featurelens.activation_map.points import Points
from featurelens.activation_map.settings import MapSettings
from featurelens.output.images import same_size
from featurelens.rendering import RenderedUnit
from featurelens.results import TechniqueResult

if TYPE_CHECKING:
    from featurelens.data.sources import ImageSource
    from featurelens.geometry import ReceptiveField


@dataclass
class MapCell:
    """One filled cell (row, col) of the grid: its points (indices into the result's points), their mean activation
    `vector` [C], the points shown as its examples (nearest the cell's centre), the mean attribution of its points to
    the class (None without one), the `direction` rendered (`vector`, or with `center` `vector` minus the mean of all
    points) and its render."""

    row: int
    col: int
    points: np.ndarray
    vector: np.ndarray
    examples: np.ndarray
    attribution: float | None = None
    direction: np.ndarray | None = None
    render: RenderedUnit | None = None

    @property
    def name(self) -> str:
        return f"{self.row}_{self.col}"

    @property
    def count(self) -> int:
        return len(self.points)


@dataclass(frozen=True)
class PlacedFeature:
    """A dictionary feature on the map: its decoder atom's position (x, y) in the unit square, and the cell there."""

    feature: int
    x: float
    y: float
    row: int
    col: int


@dataclass
class MapResult(TechniqueResult):
    """An activation atlas of `layer`: `xy` [P, 2] places each of `points` in the unit square; `cells` are the grid's
    filled cells, row by row. `source` and `field` give each example its input and the crop its position sees."""

    model: str
    layer: str
    data: str
    settings: MapSettings
    points: Points
    source: ImageSource
    field: ReceptiveField
    input_size: int
    in_channels: int
    xy: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    cells: list[MapCell] = field(default_factory=list)
    class_name: str | None = None
    class_index: int | None = None
    dictionary: str | None = None  # the dictionary's layer name (LAYER/NAME) whose features are placed
    features: list[PlacedFeature] = field(default_factory=list)
    render_batches: int = 0  # optimisation batches the renders ran in (all cells, in batches of `max_batch`)
    render_seconds: float = 0.0
    layout_seconds: float = 0.0
    seconds: float = 0.0
    interrupted: bool = False

    @property
    def images(self) -> np.ndarray:
        """uint8 [N, H, W, C]: the rendered cells, row by row."""
        pictures = [cell.render.image for cell in self.cells if cell.render is not None]
        return same_size(pictures) if pictures else np.zeros((0, 0, 0, 3), np.uint8)

    def cell_of_points(self) -> np.ndarray:
        """(row, col) [P, 2] of every point's cell in the grid, filled or not."""
        return grid_cells(self.xy, self.settings.grid)

    def class_cells(self, count: int | None = None) -> list[MapCell]:
        """The filled cells that push the class most (highest mean attribution first); empty without a class."""
        ranked = sorted((c for c in self.cells if c.attribution is not None), key=lambda c: c.attribution, reverse=True)
        return ranked[:count] if count is not None else ranked

    def summary(self) -> dict:
        """The map.json document (without the per-point table, which map.json's writer adds)."""
        return {
            "model": self.model,
            "layer": self.layer,
            "data": self.data,
            "settings": asdict(self.settings),
            "points": len(self.points),
            "inputs": self.points.inputs,
            "dropped_zero_vectors": self.points.dropped,
            "cells": [
                {"row": c.row, "col": c.col, "count": c.count, "attribution": c.attribution,
                 "examples": [int(self.points.entries[p]) for p in c.examples],
                 "activation": c.render.activation if c.render else None, "beats_data": c.render.beats_data if c.render else None}
                for c in self.cells
            ],
            "class": None if self.class_name is None else {"name": self.class_name, "index": self.class_index,
                                                           "attribution": "gradient × activation of the class logit at each point, "
                                                                          "averaged over the cell's points"},
            "dictionary": self.dictionary,
            "features": [{"feature": f.feature, "x": f.x, "y": f.y, "row": f.row, "col": f.col} for f in self.features],
            "render_batches": self.render_batches,
            "layout_seconds": self.layout_seconds,
            "render_seconds": self.render_seconds,
            "seconds": self.seconds,
            "interrupted": self.interrupted,
        }

    def save(self, path: str | Path) -> Path:
        """Write the zoomable page (index.html), a page per cell with its examples, the renders, each cell's direction
        as .npy and map.json into the folder `path`; returns index.html's path."""
        return write_map(self, Path(path))
