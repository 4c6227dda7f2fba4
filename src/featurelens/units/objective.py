"""Checking unit expressions against a model, and turning captured activations into one value per image."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from featurelens.capture.layers import LOGIT, LayerInfo, unknown_layer_message
from featurelens.errors import FeaturelensError
from featurelens.models.loaded import LoadedModel
from featurelens.units.address import CENTER, Unit, UnitExpression


@lru_cache(maxsize=64)
def load_direction(path: str) -> np.ndarray:
    """A direction vector over a layer's channels, from a .npy file (flattened to 1-D)."""
    file = Path(path)
    if not file.is_file():
        raise FeaturelensError(f"direction file {path!r} not found: save one with numpy.save")
    try:
        return np.load(file).astype(np.float32).reshape(-1)
    except (ValueError, OSError) as err:
        raise FeaturelensError(f"direction file {path!r} is not a readable .npy array ({err})") from None


def resolve_expression(expression: UnitExpression, model: LoadedModel, layers: list[LayerInfo]) -> UnitExpression:
    """Validate every unit against the model's layers (names, channel range, position, direction length)
    and replace class names by indices. Errors name the valid range or the closest layer names."""
    shapes = {info.name: info.shape for info in layers}
    return expression.map_units(lambda unit: _resolve_unit(unit, model, shapes))


def _resolve_unit(unit: Unit, model: LoadedModel, shapes: dict[str, tuple[int, ...]]) -> Unit:
    if unit.layer not in shapes:
        raise FeaturelensError(unknown_layer_message(unit.layer, list(shapes)))
    shape = shapes[unit.layer]
    channels = shape[0] if shape else 1
    if unit.class_name is not None:
        return Unit(unit.layer, model.class_index(unit.class_name))
    if unit.direction is not None:
        length = load_direction(unit.direction).shape[0]
        if length != channels:
            raise FeaturelensError(
                f"direction {unit.direction!r} has {length} values but layer {unit.layer!r} has {channels} channels"
            )
        return unit
    if unit.channel is not None and not 0 <= unit.channel < channels:
        raise FeaturelensError(f"channel {unit.channel} out of range for layer {unit.layer!r}: valid channels are 0..{channels - 1}")
    if isinstance(unit.position, tuple):
        if len(shape) < 3:
            raise FeaturelensError(f"layer {unit.layer!r} has no spatial map: drop the @Y,X part")
        height, width = shape[-2:]
        y, x = unit.position
        if not (0 <= y < height and 0 <= x < width):
            raise FeaturelensError(
                f"position {y},{x} out of range for layer {unit.layer!r} at this input size: valid 0..{height - 1},0..{width - 1}"
            )
    if unit.position == CENTER and len(shape) < 3:
        raise FeaturelensError(f"layer {unit.layer!r} has no spatial map: drop the @center part")
    return unit


def unit_value(unit: Unit, activation: torch.Tensor) -> torch.Tensor:
    """The scalar each image gives for `unit`: [B, C, H, W] or [B, C] activation → [B]."""
    batch = activation.shape[0]
    if unit.direction is not None:
        direction = torch.as_tensor(load_direction(unit.direction), dtype=activation.dtype, device=activation.device)
        direction = direction / direction.norm().clamp_min(1e-12)
        pooled = activation.reshape(batch, activation.shape[1], -1).mean(-1)
        return pooled @ direction
    if unit.channel is None:
        return activation.reshape(batch, -1).pow(2).mean(-1)
    channel = activation[:, unit.channel]
    if channel.dim() == 1:
        return channel
    if unit.position is None:
        return channel.reshape(batch, -1).mean(-1)
    if unit.position == CENTER:
        y, x = channel.shape[-2] // 2, channel.shape[-1] // 2
    else:
        y, x = unit.position
    return channel[:, y, x]


def expression_value(expression: UnitExpression, activations: dict[str, torch.Tensor]) -> torch.Tensor:
    """Weighted sum of unit values, per image: [B]."""
    total = None
    for weight, unit in expression.terms:
        value = weight * unit_value(unit, activations[unit.layer])
        total = value if total is None else total + value
    return total


def layers_needed(expressions: list[UnitExpression]) -> list[str]:
    return list(dict.fromkeys(layer for e in expressions for layer in e.layers))


def uses_logits(expressions: list[UnitExpression]) -> bool:
    return LOGIT in layers_needed(expressions)
