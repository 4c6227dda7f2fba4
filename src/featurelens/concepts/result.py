"""What `find` returns: every unit's separation of the concept, the concept's direction per layer, and the top units'
renders and dataset examples."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from featurelens.concepts.files import write_find
from featurelens.concepts.probe import Probe
from featurelens.dictionary.file import Dictionary
from featurelens.dataset_examples.result import ExamplesResult, LayerExamples
from featurelens.data.sources import Skipped
from featurelens.rendering import RenderResult
from featurelens.results import TechniqueResult

@dataclass(frozen=True)
class UnitSeparation:
    """How well one unit separates positives from negatives: the AUC of its pooled score (`reduce`), the AUC of the
    other pooling, and the best threshold on the `reduce` score with its balanced accuracy (`above`: the concept is
    the side above it)."""

    layer: str
    channel: int
    auc: float
    other_auc: float
    threshold: float
    accuracy: float
    above: bool

    @property
    def unit(self) -> str:
        return f"{self.layer}:{self.channel}"

    def to_dict(self) -> dict:
        return {"unit": self.unit, "layer": self.layer, "channel": self.channel, "auc": round(self.auc, 4),
                "other_auc": round(self.other_auc, 4), "threshold": float(self.threshold), "accuracy": round(self.accuracy, 4),
                "concept_above": self.above}


@dataclass
class InputCounts:
    """How many inputs each side had: whole images, random crops added, and (negatives) pictures dropped as repeats."""

    whole: int
    crops: int = 0
    repeats: int = 0

    @property
    def total(self) -> int:
        return self.whole + self.crops


@dataclass
class FindResult(TechniqueResult):
    """Every unit of the layers ranked by AUC (best first), the concept's probe per layer, and for the top units and
    each layer's direction (`concept_layer(L):0`) the renders and the top examples on the data."""

    model: str
    layers: list[str]
    reduce: str
    positives: str
    negatives: str
    data: str
    positive_counts: InputCounts
    negative_counts: InputCounts
    ranking: list[UnitSeparation]
    probes: dict[str, Probe]
    concepts: dict[str, Dictionary]  # each layer's direction as a one-feature dictionary (`direction_unit`)
    shown: int  # how many of `ranking` (the first) are shown with renders and examples
    renders: RenderResult | None = None
    examples: ExamplesResult | None = None
    skipped: list[Skipped] = field(default_factory=list)
    positive_names: list[str | int] = field(default_factory=list)
    positive_pictures: list[np.ndarray] = field(default_factory=list, repr=False)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    interrupted: bool = False

    @property
    def top(self) -> list[UnitSeparation]:
        """The units shown, best first."""
        return self.ranking[: self.shown]

    @property
    def images(self) -> np.ndarray:
        """The renders: the top units' images, then each layer's concept direction's."""
        if self.renders is None or not self.renders.units:
            return np.zeros((0, 0, 0, 3), np.uint8)
        return self.renders.images

    def direction(self, layer: str) -> np.ndarray:
        """The concept's direction over `layer`'s channels (unit length): what `LAYER:dir=FILE.npy` reads."""
        return self.probes[layer].direction

    def examples_of(self, layer: str) -> tuple[ExamplesResult, LayerExamples] | None:
        """The examples pass that ranked `layer` (a direction's: `concept_layer(L)`) and its layer's examples."""
        found = next((item for item in self.examples.layers if item.layer == layer), None) if self.examples else None
        return None if found is None else (self.examples, found)

    def top_examples(self, layer: str, channel: int) -> list[int]:
        """Entry indices in the data of the top examples of `layer:channel`, best first (a direction's: `concept_layer(L)`, 0)."""
        found = self.examples_of(layer)
        return [] if found is None else [int(i) for i in found[1].ranked["max"].indices[channel]]

    def summary(self) -> dict:
        return {
            "model": self.model,
            "layers": self.layers,
            "reduce": self.reduce,
            "positives": {"source": self.positives, "images": self.positive_counts.whole, "crops": self.positive_counts.crops},
            "negatives": {"source": self.negatives, "images": self.negative_counts.whole, "crops": self.negative_counts.crops,
                          "dropped_as_positives": self.negative_counts.repeats},
            "data": self.data,
            "top": [unit.to_dict() for unit in self.top],
            "directions": {layer: {"held_out_auc": probe.held_out_auc, "fitted_auc": round(probe.fitted_auc, 4)}
                           for layer, probe in self.probes.items()},
            "skipped_count": len(self.skipped),
            "skipped": [{"item": s.item, "reason": s.reason} for s in self.skipped],
            "notes": self.notes,
            "seconds": round(self.seconds, 3),
            "interrupted": self.interrupted,
        }

    def save(self, path: str | Path) -> Path:
        """Write index.html, ranking.json (every unit), each layer's direction as concept-LAYER.npy, the renders and
        the examples into the folder `path`; returns index.html."""
        return write_find(self, Path(path))
