"""What `top_examples` returns: per layer and channel, the top-k and bottom-k inputs with score, position and crop box."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Collection, Iterator, Mapping

import numpy as np
import torch

from featurelens.dataset_examples.distribution import ScoreDistribution
from featurelens.dataset_examples.rows import Example, ExampleKey
from featurelens.data.sources import ImageSource, Skipped
from featurelens.dataset_examples.state import ExamplesState
from featurelens.dataset_examples.topk import KINDS
from featurelens.geometry import ReceptiveField
from featurelens.dataset_examples.files import write_examples  # the writer reads this result by a Protocol: one way, result → files
from featurelens.results import TechniqueResult


@dataclass
class RankedExamples:
    """One kind ("max" or "min") for one layer: arrays [C, m], best first (m = k, or fewer if the source was smaller)."""

    scores: np.ndarray  # float32
    indices: np.ndarray  # int64 entry index in the source
    y: np.ndarray  # int64 row of the peak (max) / trough (min) in the layer's map
    x: np.ndarray  # int64 column
    boxes: np.ndarray | None = None  # int64 [C, m, 4] effective-field crops (x0, y0, x1, y1), where the field is global


@dataclass
class LayerExamples:
    """Top ("max") and bottom ("min") examples of every channel of `layer`, whose map is `height` × `width`."""

    layer: str
    channels: int
    height: int
    width: int
    receptive_field: ReceptiveField
    ranked: dict[str, RankedExamples]
    distribution: ScoreDistribution | None = None  # each channel's top-k score over the dataset, when gathered
    effective_ranks: int = 0  # examples per unit and end cropped by their effective field (global fields only)

    def box(self, kind: str, channel: int, rank: int) -> tuple[int, int, int, int]:
        """Crop (x0, y0, x1, y1) of the input that example `rank` (0-based) of `channel` saw at its extreme: its receptive
        field, or where the field is the whole input (attention), its effective field on that input."""
        ranked = self.ranked[kind]
        if ranked.boxes is not None:
            return tuple(int(v) for v in ranked.boxes[channel, rank])
        return self.receptive_field.box(int(ranked.y[channel, rank]), int(ranked.x[channel, rank]))

    @property
    def crop(self) -> str:
        """Which crop the examples show: "effective field" (where the unit's gradient concentrates on each input,
        for layers that see the whole input) or "receptive field"."""
        if not self.effective_ranks:
            return "receptive field"
        kept = self.ranked["max"].indices.shape[1]
        return "effective field" if self.effective_ranks >= kept else f"effective field (the first {self.effective_ranks} of each unit)"


@dataclass
class ExamplesResult(TechniqueResult):
    """Dataset examples of every channel of the requested layers, plus the facts of the pass.

    `projections` (when asked for) maps (layer, channel, kind, rank) to the projection of that example
    from the position that ranked it, as a picture cropped to the box its unit sees (uint8 [h, w, C]);
    `projection_seconds` is their time.
    """

    model: str
    source: ImageSource
    layers: list[LayerExamples]
    k: int
    reduce: str
    input_size: int
    in_channels: int
    items_seen: int  # images that went through the model
    entries: int  # entries consumed (images + unreadable files)
    skipped: list[Skipped] = field(default_factory=list)
    interrupted: bool = False
    seconds: float = 0.0
    cached_images: dict[int, torch.Tensor] = field(default_factory=dict, repr=False)
    state: ExamplesState | None = field(default=None, repr=False)  # what a checkpoint stores to continue the pass
    projections: dict[ExampleKey, np.ndarray] = field(default_factory=dict, repr=False)
    projection_method: str | None = None
    projection_seconds: float = 0.0

    entry_noun = "images"  # what its entries are called (class attributes, not fields: fixed for an image pass)
    notes = ()  # an image pass lists unreadable files in `skipped`; an audio pass says more in its notes

    def layer(self, name: str) -> LayerExamples:
        return next(layer for layer in self.layers if layer.layer == name)

    def item(self, index: int) -> str | int:
        """How the source names entry `index`: path relative to the folder, or the index."""
        return self.source.key(index)

    def image(self, index: int) -> np.ndarray:
        """Entry `index` as the model saw it: uint8 [S, S, C]."""
        tensor = self.cached_images.get(index)
        if tensor is None:
            tensor = self.source.image(index, self.in_channels, self.input_size)
        return (tensor.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()

    def examples(self, channels: Mapping[str, Collection[int]] | None = None) -> Iterator[Example]:
        """Every (layer, channel, kind, rank) row, layer by layer, channel by channel, "max" before "min";
        with `channels` ({layer: channels}), only those."""
        for layer in self.layers:
            chosen = range(layer.channels) if channels is None else sorted(channels.get(layer.layer, ()))
            for channel in chosen:
                for kind in KINDS:
                    ranked = layer.ranked[kind]
                    for rank in range(ranked.scores.shape[1]):
                        index = int(ranked.indices[channel, rank])
                        yield Example(
                            layer.layer, channel, kind, rank + 1, float(ranked.scores[channel, rank]), index,
                            self.item(index), int(ranked.y[channel, rank]), int(ranked.x[channel, rank]),
                            layer.box(kind, channel, rank),
                        )

    @property
    def images_per_second(self) -> float:
        """Speed of the pass alone (projections excluded)."""
        return self.items_seen / self.seconds if self.seconds > 0 else 0.0

    @property
    def total_seconds(self) -> float:
        """All the work: the pass and the projections."""
        return self.seconds + self.projection_seconds

    @property
    def images(self) -> np.ndarray:
        """uint8 [N, S, S, C]: the strongest example input of every channel, layer by layer."""
        tops = [int(layer.ranked["max"].indices[c, 0]) for layer in self.layers for c in range(layer.channels) if layer.ranked["max"].indices.shape[1]]
        cache: dict[int, np.ndarray] = {}
        return np.stack([cache.setdefault(i, self.image(i)) for i in tops]) if tops else np.zeros((0, self.input_size, self.input_size, self.in_channels), np.uint8)

    def save(self, path: str | Path) -> Path:
        """Write examples.parquet, summary.json, the pages and the pictures into the folder `path`; returns index.html."""
        return write_examples(self, Path(path), projections=self.projections or None)

    def summary(self) -> dict:
        """The summary.json document: settings, counts, speed, unreadable entries and receptive fields."""
        return {
            "model": self.model,
            "source": self.source.name,
            "layers": [layer.layer for layer in self.layers],
            "k": self.k,
            "reduce": self.reduce,
            "input_size": self.input_size,
            "items_seen": self.items_seen,
            "entries": self.entries,
            "skipped_count": len(self.skipped),
            "skipped": [{"item": s.item, "reason": s.reason} for s in self.skipped],
            "interrupted": self.interrupted,
            "seconds": round(self.seconds, 3),
            "images_per_second": round(self.images_per_second, 1),
            "projections": {"method": self.projection_method, "count": len(self.projections), "seconds": round(self.projection_seconds, 3)}
            if self.projection_method else None,
            "receptive_fields": {layer.layer: layer.receptive_field.summary() for layer in self.layers},
            "crops": {layer.layer: layer.crop for layer in self.layers},
        }
