"""Top-9 class purity: how much of one thing a unit answers to, for neurons and for dictionary features alike.

A unit's purity over a labelled source is the share of its top 9 inputs (ranked by its maximum over positions, the
`examples` pass) that come from their most common class. Dictionary features are measured as units of the layer
`LAYER/NAME` (`dictionary.attach`): exactly what `featurelens examples --dictionary FILE` ranks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from featurelens.dataset_examples.run import collect_examples
from featurelens.dictionary.attach import attached
from featurelens.dictionary.file import Dictionary
from featurelens.errors import FeaturelensError
from featurelens.models import LoadedModel

TOP = 9
PURE = 7  # of TOP from one class: "mostly one thing"


@dataclass
class Purity:
    """Each unit's top-9 purity [units] (share of its top 9 from its most common class) and that class [units]."""

    layer: str
    purity: torch.Tensor
    majority: torch.Tensor

    def figures(self, live: torch.Tensor | None = None) -> dict[str, float]:
        """Median purity and the share of units with ≥ 7 of 9 from one class, over the `live` units (default: all)."""
        kept = self.purity[live] if live is not None else self.purity
        return {"units": int(kept.numel()), "median": float(kept.median()) if kept.numel() else 0.0,
                "share_pure": float((kept >= PURE / TOP - 1e-6).float().mean()) if kept.numel() else 0.0}

    def summary(self, live: torch.Tensor | None = None) -> str:
        figures = self.figures(live)
        return (f"{self.layer}: median top-{TOP} purity {figures['median']:.2f}, {figures['share_pure']:.0%} of "
                f"{figures['units']} units with >= {PURE} of {TOP} from one class")


def unit_purity(model: LoadedModel, data: Any, layer: str, labels: torch.Tensor, *, limit: int | None = None,
                batch_size: int = 256) -> Purity:
    """Top-9 purity of every channel of `layer` (a layer, or an attached dictionary's `LAYER/NAME`) over `data`."""
    ranked = collect_examples(model, data, [layer], TOP, "max", batch_size, limit=limit, progress=False)
    indices = torch.from_numpy(ranked.layers[0].ranked["max"].indices).long()  # [units, 9]
    if (indices < 0).any():
        raise FeaturelensError(f"purity needs at least {TOP} inputs: the source gave fewer")
    counts = torch.nn.functional.one_hot(labels[indices], int(labels.max()) + 1).sum(1)  # [units, classes]
    best = counts.max(1)
    return Purity(layer, best.values.float() / TOP, best.indices)


def feature_purity(model: LoadedModel, dictionary: Dictionary, data: Any, labels: torch.Tensor, *, limit: int | None = None,
                   batch_size: int = 256) -> Purity:
    """Top-9 purity of every feature of `dictionary`, ranked as the units of `LAYER/NAME` (attached for the call)."""
    with attached(model, [dictionary]) as (name,):
        return unit_purity(model, data, name, labels, limit=limit, batch_size=batch_size)
