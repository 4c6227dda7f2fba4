"""Laying the points out: UMAP to two dimensions (cosine metric, seeded), scaled into the unit square, and gridded.

UMAP with a `random_state` runs single-threaded and gives the same layout for the same points on the same machine.
The layout is scaled so its 1st–99th percentiles span [0, 1] on each axis, the few points beyond clipped to the edge
(as Lucid's atlas does), so a handful of outliers cannot squeeze the rest into a corner. A point at (x, y) lies in
cell (row, col) = (⌊y·G⌋, ⌊x·G⌋) of a G×G grid (the last row and column closed).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from featurelens.errors import FeaturelensError

PERCENTILES = (1.0, 99.0)
SMALL = 32  # fewer points than this: UMAP's spectral start is unreliable, start from random positions


def umap_reducer(points: int, neighbors: int, min_dist: float, seed: int) -> Any:
    """A seeded UMAP for `points` vectors (cosine metric); one-line error when umap-learn is missing."""
    try:
        import umap  # heavy (numba): imported only when a map is laid out
    except ImportError:
        raise FeaturelensError("the activation atlas needs umap-learn: pip install 'featurelens[map]' (or umap-learn)") from None
    return umap.UMAP(n_components=2, metric="cosine", n_neighbors=max(2, min(neighbors, points - 1)), min_dist=min_dist,
                     random_state=seed, n_jobs=1, init="spectral" if points >= SMALL else "random")


@dataclass(frozen=True)
class Frame:
    """The affine map from UMAP's coordinates to the unit square: `low` and `high` [2] go to 0 and 1."""

    low: np.ndarray
    high: np.ndarray

    @classmethod
    def around(cls, raw: np.ndarray) -> "Frame":
        low, high = np.percentile(raw, PERCENTILES, axis=0)
        return cls(low, np.where(high > low, high, low + 1.0))

    def place(self, raw: np.ndarray) -> np.ndarray:
        """UMAP coordinates [P, 2] → positions [P, 2] (x, y) in [0, 1]."""
        return np.clip((raw - self.low) / (self.high - self.low), 0.0, 1.0)


@dataclass
class PointPlacement:
    """Where each point lies: `xy` [P, 2] in the unit square; `reducer` places new vectors (`transform`) in the same frame."""

    xy: np.ndarray
    frame: Frame
    reducer: Any

    def place(self, vectors: np.ndarray) -> np.ndarray:
        """Positions [K, 2] in the unit square of new vectors [K, C] (e.g. a dictionary's atoms), by UMAP's transform."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # numba and UMAP's notes on small inputs
            return self.frame.place(self.reducer.transform(np.asarray(vectors, np.float32)))


def lay_out(vectors: np.ndarray, neighbors: int, min_dist: float, seed: int) -> PointPlacement:
    """The 2-D layout of `vectors` [P, C]."""
    if len(vectors) < 3:
        raise FeaturelensError(f"only {len(vectors)} activation vector(s) to lay out: give more inputs ({{parameter}}) or positions",
                               parameter="limit")
    reducer = umap_reducer(len(vectors), neighbors, min_dist, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw = reducer.fit_transform(np.asarray(vectors, np.float32))
    frame = Frame.around(raw)
    return PointPlacement(frame.place(raw), frame, reducer)


def grid_cells(xy: np.ndarray, grid: int) -> np.ndarray:
    """The (row, col) [P, 2] of each position [P, 2] in a `grid`×`grid` grid over the unit square."""
    cells = np.floor(np.asarray(xy)[:, ::-1] * grid).astype(np.int64)
    return np.clip(cells, 0, grid - 1)
