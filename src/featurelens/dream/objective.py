"""The DeepDream objective: a unit expression written as a sum over layer positions, so tiles add up exactly.

For the full activation map it equals `expression_value` (whole layer = mean of squares, channel =
spatial mean, neuron = one value, direction = pooled projection). A tile passes a `LayerWindow`
naming the positions it owns; each position is owned by exactly one tile, so the tiles' values
(and gradients) sum to the untiled ones.

Guided dreaming (Mordvintsev et al.'s `objective_guide`): each position's feature vector is matched
to the guide feature it has the largest dot product with, and that dot product is maximized.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from featurelens.capture import ActivationCapture
from featurelens.errors import FeaturelensError
from featurelens.models.loaded import LoadedModel
from featurelens.units import Unit, UnitExpression, unit_value
from featurelens.units.address import CENTER
from featurelens.units.objective import load_direction


@dataclass(frozen=True)
class LayerWindow:
    """Positions of one layer a tile owns: crop offset in the full map, owned rows/cols in crop coordinates, full size."""

    offset: tuple[int, int]
    rows: tuple[int, int]
    cols: tuple[int, int]
    full: tuple[int, int]


class DreamObjective:
    """What DeepDream maximizes, evaluated on (part of) an activation map."""

    def __init__(self, expression: UnitExpression, spatial_layers: set[str], guides: dict[str, torch.Tensor] | None = None):
        self.expression = expression
        self.guides = guides or {}
        self.layers = expression.layers
        self.tileable = all(layer in spatial_layers for layer in self.layers)
        if self.guides:
            for _, unit in expression.terms:
                if unit.channel is not None or unit.direction is not None:
                    raise FeaturelensError(f"--guide matches whole layers, not {unit}: give a layer name such as {unit.layer} as --objective")
                if unit.layer not in spatial_layers:
                    raise FeaturelensError(f"--guide needs a layer with a spatial map, not {unit.layer!r}")

    def __str__(self) -> str:
        return str(self.expression) + (" (guided)" if self.guides else "")

    def value(self, activations: dict[str, torch.Tensor], windows: dict[str, LayerWindow] | None = None) -> torch.Tensor:
        """Scalar objective (summed over the batch); `windows` restricts each layer to the positions a tile owns."""
        total = None
        for weight, unit in self.expression.terms:
            act = activations[unit.layer]
            if act.dim() != 4:
                term = unit_value(unit, act).sum()
            else:
                window = windows[unit.layer] if windows else _whole(act)
                term = self._spatial_term(unit, act, window)
            total = weight * term if total is None else total + weight * term
        return total

    def _spatial_term(self, unit: Unit, act: torch.Tensor, window: LayerWindow) -> torch.Tensor:
        (r0, r1), (c0, c1) = window.rows, window.cols
        owned = act[:, :, r0:r1, c0:c1]
        positions = window.full[0] * window.full[1]
        channels = act.shape[1]
        if unit.layer in self.guides:
            scores = torch.einsum("bcp,cq->bpq", owned.flatten(2), self.guides[unit.layer])
            return scores.amax(-1).sum() / (channels * positions)
        if unit.direction is not None:
            direction = torch.as_tensor(load_direction(unit.direction), dtype=act.dtype, device=act.device)
            direction = direction / direction.norm().clamp_min(1e-12)
            return (owned * direction.view(1, -1, 1, 1)).sum() / positions
        if unit.channel is None:
            return owned.pow(2).sum() / (channels * positions)
        if unit.position is None:
            return owned[:, unit.channel].sum() / positions
        y, x = (window.full[0] // 2, window.full[1] // 2) if unit.position == CENTER else unit.position
        local_y, local_x = y - window.offset[0], x - window.offset[1]
        if r0 <= local_y < r1 and c0 <= local_x < c1:
            return act[:, unit.channel, local_y, local_x].sum()
        return act.new_zeros(())


def _whole(act: torch.Tensor) -> LayerWindow:
    height, width = act.shape[-2:]
    return LayerWindow((0, 0), (0, height), (0, width), (height, width))


@torch.no_grad()
def guide_features(model: LoadedModel, layers: list[str], guide: torch.Tensor) -> dict[str, torch.Tensor]:
    """Feature vectors of the guide image ([1, C, H, W] in [0, 1]) at each layer: {layer: [channels, positions]}."""
    with ActivationCapture(model.module, layers) as capture:
        activations = capture.run(model.normalize(guide.to(model.device)))
    return {layer: act[0].flatten(1) for layer, act in activations.items()}
