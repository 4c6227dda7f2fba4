"""The concept's direction as a unit: a one-feature dictionary, so it renders, ranks and reloads like any feature.

The probe's logit is `w · x̄ + b` over a layer's mean-pooled channels x̄. As a dictionary over the layer, its feature's
value at a position is `w · x + b`, whose mean over positions is that logit. A dictionary layer's features are an
affine map of the layer below (`W x + o`), so a direction over them is one over that layer: `(Wᵀ w) · x + w · o + b`.
Names: the direction of `conv3` is `conv3/concept`; of a dictionary layer `conv3/dict`, `conv3/dict.concept`.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from featurelens.concepts.probe import Probe
from featurelens.dictionary.attach import DictionaryFeatures, dictionary_of
from featurelens.dictionary.file import Dictionary

CONCEPT = "concept"


def concept_layer(layer: str) -> str:
    """The layer name under which the concept's direction of `layer` is a unit (see the module docstring)."""
    return f"{layer}.{CONCEPT}" if "/" in layer else f"{layer}/{CONCEPT}"


def concept_dictionary(model: str, module: nn.Module, layer: str, probe: Probe) -> Dictionary:
    """`probe` (fitted on `layer` of `module`, a model named `model`) as a one-feature dictionary named `concept_layer(layer)`."""
    weight, bias, below = probe.weight.astype(np.float64), float(probe.bias), layer
    features = dictionary_of(module, layer)
    if features is not None:  # features of a dictionary: fold its affine map into the direction
        map_weight, offset = features.weight.double().cpu().numpy(), features.offset.double().cpu().numpy()
        weight, bias, below = map_weight.T @ weight, bias + float(offset @ weight), features.layer
    rows = torch.from_numpy(weight).float()[None]
    return Dictionary(model, below, "topk", 1, 1.0, rows, torch.tensor([bias], dtype=torch.float32),
                      rows / rows.norm().clamp_min(1e-12), torch.zeros(rows.shape[1]), name=concept_layer(layer).split("/", 1)[1],
                      settings={"made_by": "featurelens find", "fitted_on": layer})


class ConceptScore(DictionaryFeatures):
    """The probe's logit per input as a layer of one channel and no positions ([N, 1]): the feature `w · x + b`
    averaged over the layer's positions. Attached while `find` runs, it ranks and renders by that score under any
    pooling (a value without positions is its own max and mean). Dictionary features are read per unit length of
    their direction; the probe's logit is that times the length of `w`."""

    def __init__(self, dictionary: Dictionary) -> None:
        super().__init__(dictionary)
        self.register_buffer("length", dictionary.encoder_lengths().float(), persistent=False)

    def forward(self, positions: torch.Tensor) -> torch.Tensor:
        values = super().forward(positions) * self.length.view(1, -1, *[1] * (positions.dim() - 2)).to(positions.dtype)
        return values.flatten(2).mean(-1) if values.dim() > 2 else values
