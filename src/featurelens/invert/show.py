"""What one unit carries: keep only that unit's activation, zero the rest of the layer, and decode.

A unit is a unit address on the inverter's layer: the whole layer (decode everything), a channel
(its whole map), a neuron (one value), or a direction (each position's component along it).
`contribution` is the decode minus the decode of an all-zero activation, i.e. what the kept unit
adds to the decoder's empty-input image.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from featurelens.errors import FeaturelensError
from featurelens.invert.inverter import Inverter
from featurelens.models.loaded import LoadedModel
from featurelens.units import Unit, UnitExpression, parse_units
from featurelens.units.address import CENTER
from featurelens.units.objective import load_direction


@dataclass
class UnitDecode:
    """Input, decode of the kept unit, and its contribution; images [1, C, S, S], contribution in [-1, 1]."""

    unit: str
    image: torch.Tensor
    reconstruction: torch.Tensor
    contribution: torch.Tensor
    kept: torch.Tensor  # the masked activation that was decoded


def keep_unit(activation: torch.Tensor, unit: Unit) -> torch.Tensor:
    """The activation [B, C, H, W] (or [B, C]) with everything but `unit` set to zero."""
    if unit.channel is None and unit.direction is None:
        return activation.clone()
    kept = torch.zeros_like(activation)
    if unit.direction is not None:
        direction = torch.as_tensor(load_direction(unit.direction), dtype=activation.dtype, device=activation.device)
        if direction.numel() != activation.shape[1]:
            raise FeaturelensError(f"direction {unit.direction!r} has {direction.numel()} values but the layer has {activation.shape[1]} channels")
        direction = direction / direction.norm().clamp_min(1e-12)
        shape = (1, -1) + (1,) * (activation.dim() - 2)
        along = (activation * direction.view(shape)).sum(1, keepdim=True)
        return along * direction.view(shape)
    if not 0 <= unit.channel < activation.shape[1]:
        raise FeaturelensError(f"channel {unit.channel} out of range for layer {unit.layer!r}: valid channels are 0..{activation.shape[1] - 1}")
    if unit.position is None or activation.dim() == 2:
        kept[:, unit.channel] = activation[:, unit.channel]
        return kept
    height, width = activation.shape[-2:]
    y, x = (height // 2, width // 2) if unit.position == CENTER else unit.position
    if not (0 <= y < height and 0 <= x < width):
        raise FeaturelensError(f"position {y},{x} out of range for layer {unit.layer!r}: valid 0..{height - 1},0..{width - 1}")
    kept[:, unit.channel, y, x] = activation[:, unit.channel, y, x]
    return kept


def single_unit(expression: str | UnitExpression) -> Unit:
    """The one unit of an address; sums, weights and logits are rejected."""
    parsed = parse_units(expression) if isinstance(expression, str) else expression
    if len(parsed.terms) != 1 or parsed.terms[0][0] != 1.0:
        raise FeaturelensError(f"invert show decodes one unit or layer at a time, not {parsed}: give e.g. pool2:5 or pool2")
    unit = parsed.terms[0][1]
    if unit.class_name is not None:
        raise FeaturelensError(f"{unit} is a class logit: give a unit of the inverter's layer")
    return unit


def decode_unit(inverter: Inverter, model: LoadedModel, image: torch.Tensor, unit: str | UnitExpression | Unit) -> UnitDecode:
    """Run `image` ([1, C, S, S] in [0, 1]) to the inverter's layer, keep `unit`, decode."""
    chosen = unit if isinstance(unit, Unit) else single_unit(unit)
    inverter.check_fits(model, chosen.layer)
    image = image.to(model.device)
    activation = inverter.activations(model, image)
    kept = keep_unit(activation, chosen)
    reconstruction = inverter.decode(kept)
    empty = inverter.decode(torch.zeros_like(activation))
    return UnitDecode(str(chosen), image.cpu(), reconstruction.cpu(), (reconstruction - empty).cpu(), kept.cpu())
