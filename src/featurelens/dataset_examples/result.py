"""What `examples` returns, for images and for sound alike: per layer and channel, the top-k and bottom-k entries with
score and position, read and shown through the entries' `ExampleInputs` (images with crops, or clips with excerpts)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Collection, Iterator, Mapping, Protocol

import numpy as np

from featurelens.dataset_examples.distribution import ScoreDistribution
from featurelens.dataset_examples.rows import ExampleKey, ExampleRow
from featurelens.data.sources import Skipped
from featurelens.dataset_examples.state import ExamplesState
from featurelens.geometry import ReceptiveField, TimeField
from featurelens.dataset_examples.files import write_examples  # the writer reads this result by a Protocol: one way, result → files
from featurelens.results import TechniqueResult

if TYPE_CHECKING:
    from featurelens.dataset_examples.files import ExampleFigures


@dataclass
class RankedExamples:
    """One kind ("max" or "min") for one layer: arrays [C, m], best first (m = k, or fewer if the source was smaller)."""

    scores: np.ndarray  # float32
    indices: np.ndarray  # int64 entry index in the source
    y: np.ndarray  # int64 row of the peak (max) / trough (min) in the layer's map
    x: np.ndarray  # int64 column (for sound: the time step)
    boxes: np.ndarray | None = None  # int64 [C, m, 4] effective-field crops (x0, y0, x1, y1), where the field is global


@dataclass
class LayerExamples:
    """Top ("max") and bottom ("min") examples of every channel of `layer`, whose map is `height` × `width` (for sound:
    `receptive_field` is a `TimeField`, what a unit hears, and the map 1 × 0: each clip's width is its own)."""

    layer: str
    channels: int
    height: int
    width: int
    receptive_field: ReceptiveField | TimeField
    ranked: dict[str, RankedExamples]
    distribution: ScoreDistribution | None = None  # each channel's top-k score over the dataset, when gathered
    effective_ranks: int = 0  # examples per unit and end cropped by their effective field (global fields only)
    effective_units: int = 0  # ... of the first this many units (all of them unless over the crops' budget)

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
        return f"effective field ({self.effective_scope})" if self.effective_scope else "effective field"

    @property
    def effective_scope(self) -> str:
        """Which examples the effective-field crops cover when not all (they cost a backward pass each): "" for all."""
        if self.effective_units < self.channels:
            return f"the best example of units 0–{self.effective_units - 1}"
        kept = self.ranked["max"].indices.shape[1]
        return "" if self.effective_ranks >= kept else f"the first {self.effective_ranks} of each unit"


class ExampleInputs(Protocol):
    """How a result's entries are read, listed, pictured and written: images and their crops
    (`image_inputs.ImageInputs`) or clips and their excerpts (`clip_inputs.ClipInputs`)."""

    noun: str  # what the entries are called: "images", "clips"
    figures: str  # the template of macros that show an example and describe a page (dataset_examples/_*.html.j2)
    players_per_example: int  # <audio> elements each example puts on a page (pages are split to stay fast)

    def rows(self, layers: list[LayerExamples], channels: Mapping[str, Collection[int]] | None) -> Iterator[ExampleRow]: ...

    def picture(self, index: int) -> np.ndarray: ...

    def no_pictures(self) -> np.ndarray: ...

    def item(self, index: int) -> str | int: ...

    def facts(self, layers: list[LayerExamples]) -> dict: ...

    def write(self, result: ExampleFigures, rows: list, out_dir: Path, projections: Mapping, workers: int | None) -> None: ...

    def write_table(self, rows: list, path: Path) -> Path: ...

    def blocks(self, result: ExampleFigures, layer: Any, rows: list, projections: Mapping) -> list[dict]: ...

    def page_facts(self) -> dict: ...


@dataclass
class ExamplesResult(TechniqueResult):
    """Dataset examples of every channel of the requested layers, plus the facts of the pass.

    `inputs` reads and shows the entries (images, or clips through an audio model's front end); `notes` says
    what was done to awkward files, once each. `projections` (when asked for) maps (layer, channel, kind, rank) to
    the projection of that example from the position that ranked it, as a picture cropped to the box its unit sees
    (uint8 [h, w, C]); `projection_seconds` is their time.
    """

    model: str
    source: Any  # an `ImageSource` or an `AudioSource`: `item`, `len`, `name`
    layers: list[LayerExamples]
    k: int
    reduce: str
    inputs: ExampleInputs
    items_seen: int  # entries that went through the model
    entries: int  # entries consumed (read + unreadable files)
    skipped: list[Skipped] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    interrupted: bool = False
    seconds: float = 0.0
    state: ExamplesState | None = field(default=None, repr=False)  # what a checkpoint stores to continue the pass
    projections: dict[ExampleKey, np.ndarray] = field(default_factory=dict, repr=False)
    projection_method: str | None = None
    projection_seconds: float = 0.0

    @property
    def entry_noun(self) -> str:
        """What the entries are called: "images" or "clips"."""
        return self.inputs.noun

    def layer(self, name: str) -> LayerExamples:
        return next(layer for layer in self.layers if layer.layer == name)

    def item(self, index: int) -> str | int:
        """How the source names entry `index`: path relative to the folder, or the index."""
        return self.inputs.item(index)

    def image(self, index: int) -> np.ndarray:
        """Entry `index` as a picture, uint8 [H, W, C]: the image as the model saw it, or a clip's spectrogram."""
        return self.inputs.picture(index)

    def examples(self, channels: Mapping[str, Collection[int]] | None = None) -> Iterator[ExampleRow]:
        """Every (layer, channel, kind, rank) row, layer by layer, channel by channel, "max" before "min";
        with `channels` ({layer: channels}), only those."""
        return self.inputs.rows(self.layers, channels)

    @property
    def images_per_second(self) -> float:
        """Entries per second of the pass alone (projections excluded)."""
        return self.items_seen / self.seconds if self.seconds > 0 else 0.0

    @property
    def total_seconds(self) -> float:
        """All the work: the pass and the projections."""
        return self.seconds + self.projection_seconds

    @property
    def images(self) -> np.ndarray:
        """uint8 [N, H, W, C]: the picture of the strongest example of every channel, layer by layer."""
        tops = [int(layer.ranked["max"].indices[c, 0]) for layer in self.layers for c in range(layer.channels) if layer.ranked["max"].indices.shape[1]]
        cache: dict[int, np.ndarray] = {}
        return np.stack([cache.setdefault(i, self.image(i)) for i in tops]) if tops else self.inputs.no_pictures()

    def save(self, path: str | Path) -> Path:
        """Write examples.parquet, summary.json, the pages and the pictures (and sounds) into the folder `path`; returns index.html."""
        return write_examples(self, Path(path), projections=self.projections or None)

    def summary(self) -> dict:
        """The summary.json document: settings, counts, speed, unreadable entries, receptive fields, and what the
        inputs add (an image's size and crops; a clip's sample rate and what was done to awkward files)."""
        return {
            "model": self.model,
            "source": self.source.name,
            "layers": [layer.layer for layer in self.layers],
            "k": self.k,
            "reduce": self.reduce,
            "items_seen": self.items_seen,
            "entries": self.entries,
            "skipped_count": len(self.skipped),
            "skipped": [{"item": s.item, "reason": s.reason} for s in self.skipped],
            "notes": list(self.notes),
            "interrupted": self.interrupted,
            "seconds": round(self.seconds, 3),
            f"{self.inputs.noun}_per_second": round(self.images_per_second, 1),
            "projections": {"method": self.projection_method, "count": len(self.projections), "seconds": round(self.projection_seconds, 3)}
            if self.projection_method else None,
            "receptive_fields": {layer.layer: layer.receptive_field.summary() for layer in self.layers},
            **self.inputs.facts(self.layers),
        }
