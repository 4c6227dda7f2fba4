"""Keeping one unit: the layer's activation with everything outside the unit set to zero.

The trained inverter decodes such a masked activation to show what the unit alone carries; a
projection sends it back through the network (Zeiler & Fergus: "all other activations in the
layer set to zero").
"""

from __future__ import annotations

import torch

from featurelens.errors import FeaturelensError
from featurelens.units.address import CLS, Unit
from featurelens.units.directions import unit_direction
from featurelens.units.values import position_of


def keep_unit(activation: torch.Tensor, unit: Unit) -> torch.Tensor:
    """The activation [B, C, …] with everything but `unit` zeroed: a whole layer is kept whole;
    a direction keeps each position's component along it. The unit must be resolved (valid here)."""
    if unit.channel is None and unit.direction is None:
        return activation.clone()
    if unit.position == CLS:
        raise FeaturelensError(f"{unit} is the class token, which has no place on the layer's grid: name a grid position or the feature alone")
    if unit.direction is not None:
        direction = unit_direction(unit.direction, activation).view((1, -1) + (1,) * (activation.dim() - 2))
        return (activation * direction).sum(1, keepdim=True) * direction
    kept = torch.zeros_like(activation)
    if unit.position is None or activation.dim() == 2:
        kept[:, unit.channel] = activation[:, unit.channel]
        return kept
    index = (slice(None), unit.channel, *position_of(unit, tuple(activation.shape[2:])))
    kept[index] = activation[index]
    return kept
