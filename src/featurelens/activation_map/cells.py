"""The grid's cells: which points fall in each, their mean activation, the examples shown, the class attribution;
and a dictionary's features placed on the grid."""

from __future__ import annotations

import numpy as np

from featurelens.activation_map.layout import PointPlacement, grid_cells
from featurelens.activation_map.points import Points
from featurelens.activation_map.result import MapCell, PlacedFeature


def filled_cells(points: Points, xy: np.ndarray, grid: int, min_count: int, examples: int, center: bool = False) -> list[MapCell]:
    """The cells holding at least `min_count` points, row by row. A cell's examples are its own points nearest its
    centre: its neighbourhood of the map, never a point of another cell. Its direction is its mean, less the mean of
    all points with `center`."""
    offset = points.vectors.mean(0) if center else 0.0
    where = grid_cells(xy, grid)
    flat = where[:, 0] * grid + where[:, 1]
    cells = []
    for index in np.unique(flat):
        members = np.flatnonzero(flat == index)
        if len(members) < min_count:
            continue
        row, col = divmod(int(index), grid)
        centre = np.array([(col + 0.5) / grid, (row + 0.5) / grid])
        nearest = members[np.argsort(np.linalg.norm(xy[members] - centre, axis=1), kind="stable")[:examples]]
        attribution = float(points.attributions[members].mean()) if points.attributions is not None else None
        mean = points.vectors[members].mean(0)
        cells.append(MapCell(row, col, members, mean, nearest, attribution, mean - offset))
    return cells


def placed_features(layout: PointPlacement, atoms: np.ndarray, grid: int) -> list[PlacedFeature]:
    """Each dictionary atom [F, C] at the UMAP position of its decoder direction (UMAP's transform), with its cell."""
    xy = layout.place(atoms)
    where = grid_cells(xy, grid)
    return [PlacedFeature(f, float(x), float(y), int(row), int(col)) for f, ((x, y), (row, col)) in enumerate(zip(xy, where))]
