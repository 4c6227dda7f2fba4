"""What the examples pass found for every channel of a layer, kept beside the atlas so units added later need no new pass.

Per layer: the ranked top-k and bottom-k (scores, entry indices, peak positions) and each channel's
histogram of its per-image score, from `dataset_examples`' score sample. Stored as one .npz per layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from featurelens.atlas.settings import HISTOGRAM_BINS
from featurelens.data.sources import ImageSource
from featurelens.dataset_examples import ExamplesResult, LayerExamples, RankedExamples
from featurelens.dataset_examples.image_inputs import ImageInputs
from featurelens.dataset_examples.topk import KINDS
from featurelens.geometry import ReceptiveField
from featurelens.atlas.files import save_arrays

_FIELDS = ("scores", "indices", "y", "x")


@dataclass
class LayerPass:
    """One layer's channels: `ranked` {"max", "min"} arrays [C, m]; histograms `edges` [C, B+1] / `counts` [C, B] of the
    score over `sampled` of the `count` images (all of them when equal), with exact `mean` [C]."""

    ranked: dict[str, RankedExamples]
    edges: np.ndarray
    counts: np.ndarray
    mean: np.ndarray
    count: int
    sampled: int

    @classmethod
    def of(cls, layer: LayerExamples) -> "LayerPass":
        found = layer.distribution
        histograms = [found.histogram(c, HISTOGRAM_BINS) for c in range(layer.channels)]
        return cls(layer.ranked, np.stack([e for e, _ in histograms]), np.stack([c for _, c in histograms]),
                   found.mean, found.count, len(found.indices))

    def save(self, path: Path) -> None:
        arrays = {f"{kind}_{name}": getattr(self.ranked[kind], name) for kind in KINDS for name in _FIELDS}
        arrays.update({f"{kind}_boxes": self.ranked[kind].boxes for kind in KINDS if self.ranked[kind].boxes is not None})
        arrays.update(edges=self.edges, counts=self.counts, mean=self.mean, count=np.array(self.count), sampled=np.array(self.sampled))
        save_arrays(path, arrays)

    @classmethod
    def load(cls, path: Path) -> "LayerPass":
        with np.load(path, allow_pickle=False) as data:
            ranked = {kind: RankedExamples(*(data[f"{kind}_{name}"] for name in _FIELDS),
                                           boxes=data[f"{kind}_boxes"] if f"{kind}_boxes" in data.files else None) for kind in KINDS}
            return cls(ranked, data["edges"], data["counts"], data["mean"], int(data["count"]), int(data["sampled"]))

    def distribution(self, channel: int, score: str, noun: str = "images") -> dict:
        """The unit record's `distribution` of the per-image `score` (its name): histogram bins (edges) and counts, and how they were made."""
        exact = self.sampled == self.count
        return {
            "score": score,
            "bins": [float(v) for v in self.edges[channel]],
            "counts": [int(v) for v in self.counts[channel]],
            "min": float(self.edges[channel, 0]),
            "max": float(self.edges[channel, -1]),
            "mean": float(self.mean[channel]),
            "images": self.count,
            "sampled": self.sampled,
            "exact": exact,
            "noun": noun,
            "method": f"every one of the {self.count} {noun}" if exact
            else f"a seeded uniform sample of {self.sampled} of the {self.count} {noun} (min, max and mean over all)",
        }

    def examples_of(self, name: str, shape: tuple[int, ...], field: ReceptiveField, source: ImageSource, spec: str, k: int,
                    reduce: str, size: int, in_channels: int) -> ExamplesResult:
        """An `ExamplesResult` of this layer alone, reading inputs from `source` again (for crops and projections)."""
        height, width = (shape[1], shape[2]) if len(shape) == 3 else (1, 1)
        layer = LayerExamples(name, shape[0], height, width, field, self.ranked)
        return ExamplesResult(spec, source, [layer], k, reduce, ImageInputs(source, size, in_channels), self.count, self.count)
