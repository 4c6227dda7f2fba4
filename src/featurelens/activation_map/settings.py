"""The knobs of an activation atlas (`featurelens map`), defined once: the CLI and `activation_map` read them here."""

from __future__ import annotations

from dataclasses import dataclass

from featurelens.errors import bad_parameter, require_positive

DEFAULT_POINTS = 20_000  # Carter et al. sample one position per image of a large set; 20 000 lay out in about a minute


@dataclass(frozen=True)
class MapSettings:
    """Knobs of one activation atlas.

    `limit`: inputs read from the data (None: every one, up to what `points` needs); `positions`: random positions
    sampled per input (distinct, seeded); `points`: the most activation vectors laid out. `grid`: cells per side of
    the layout; a cell holding fewer than `min_count` points stays empty. `neighbors` and `min_dist` are UMAP's
    (cosine metric, as the paper). `examples`: inputs shown per cell (those nearest its centre). `steps`, `size`,
    `max_batch`: the renders of the cells' mean activations (`RenderSettings`), all cells in batches of `max_batch`; with
    `center`, each cell renders its mean minus the mean of all points (what sets the cell apart: on a layer whose vectors
    share a large common part, such as fashion-cnn's pre-ReLU conv3, the plain means render alike).
    `batch_size`: inputs per forward pass. The same `seed` gives the same map on the same machine.
    """

    limit: int | None = None
    positions: int = 1
    points: int = DEFAULT_POINTS
    grid: int = 20
    min_count: int = 8
    neighbors: int = 20
    min_dist: float = 0.01
    examples: int = 9
    steps: int = 256
    size: int | str = "auto"
    max_batch: int = 64
    center: bool = False
    batch_size: int = 256
    seed: int = 0

    def check(self) -> None:
        if self.limit is not None:
            require_positive("limit", self.limit)
        for name in ("positions", "points", "grid", "min_count", "examples", "steps", "max_batch", "batch_size"):
            require_positive(name, getattr(self, name))
        if self.neighbors < 2:
            raise bad_parameter("neighbors", f"must be at least 2 (UMAP's neighbourhood), got {self.neighbors}")
        if not 0 <= self.min_dist <= 1:
            raise bad_parameter("min_dist", f"must lie in 0..1, got {self.min_dist}")
