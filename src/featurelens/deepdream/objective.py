"""The DeepDream objective: a unit expression evaluated on (part of) an activation map, per image.

A tile passes a `LayerWindow` naming the positions it owns; each position is owned by exactly one
tile, so the tiles' values (and gradients) sum to the untiled ones (see `units.values`).

Guided dreaming (Mordvintsev et al.'s `objective_guide`): each position's feature vector is matched
to the guide feature it has the largest dot product with, and that dot product is maximized.
"""

from __future__ import annotations

import torch

from featurelens.capture import ActivationCapture
from featurelens.errors import FeaturelensError
from featurelens.models.loaded import LoadedModel
from featurelens.units import LayerWindow, UnitExpression, unit_value


class DreamObjective:
    """What DeepDream maximizes: `value(activations, windows)` gives one value per image [B]."""

    def __init__(self, expression: UnitExpression, spatial_layers: set[str], guides: dict[str, torch.Tensor] | None = None):
        self.expression = expression
        self.guides = guides or {}
        self.layers = expression.layers
        self.tileable = all(layer in spatial_layers for layer in self.layers)
        if self.guides:
            for _, unit in expression.terms:
                if unit.channel is not None or unit.direction is not None:
                    raise FeaturelensError(f"{{parameter}} matches whole layers, not {unit}: give a layer name such as {unit.layer} as the objective", parameter="guide")
                if unit.layer not in spatial_layers:
                    raise FeaturelensError(f"{{parameter}} needs a layer with a spatial map, not {unit.layer!r}", parameter="guide")

    def __str__(self) -> str:
        return str(self.expression) + (" (guided)" if self.guides else "")

    def value(self, activations: dict[str, torch.Tensor], windows: dict[str, LayerWindow] | None = None) -> torch.Tensor:
        """Per-image objective [B]; `windows` restricts each layer to the positions a tile owns."""
        total = None
        for weight, unit in self.expression.terms:
            act = activations[unit.layer]
            window = windows.get(unit.layer) if windows else None
            if unit.layer in self.guides and act.dim() == 4:
                term = self._guided(act, window or _whole(act), self.guides[unit.layer])
            else:
                term = unit_value(unit, act, window)
            total = weight * term if total is None else total + weight * term
        return total

    @staticmethod
    def _guided(act: torch.Tensor, window: LayerWindow, guide: torch.Tensor) -> torch.Tensor:
        (r0, r1), (c0, c1) = window.rows, window.cols
        owned = act[:, :, r0:r1, c0:c1]
        scores = torch.einsum("bcp,cq->bpq", owned.flatten(2), guide)
        return scores.amax(-1).sum(-1) / (act.shape[1] * window.full[0] * window.full[1])


def _whole(act: torch.Tensor) -> LayerWindow:
    height, width = act.shape[-2:]
    return LayerWindow((0, 0), (0, height), (0, width), (height, width))


@torch.no_grad()
def guide_features(model: LoadedModel, layers: list[str], guide: torch.Tensor) -> dict[str, torch.Tensor]:
    """Feature vectors of the guide image ([1, C, H, W] in [0, 1]) at each layer: {layer: [channels, positions]}."""
    with ActivationCapture(model.module, layers) as capture:
        activations = capture.run(model.normalize(guide.to(model.device)))
    return {layer: act[0].flatten(1) for layer, act in activations.items()}
