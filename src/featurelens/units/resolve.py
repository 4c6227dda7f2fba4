"""Checking units against a model's layers, with one set of error messages for every technique.

A unit is valid for a layer of output shape [C, …] when its layer exists, its channel is in 0..C-1,
its position lies inside the map at this input size, its direction has C values, and its class
name is one of the model's. Resolution also turns class names into logit indices.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Mapping, Protocol, Sequence

from featurelens.capture.layers import LayerInfo, unknown_layer_message
from featurelens.capture.probe import Probe
from featurelens.errors import FeaturelensError
from featurelens.capture.layout import Layout
from featurelens.units.address import CENTER, CLS, Unit, UnitExpression, parse_units
from featurelens.units.directions import load_direction


class HasClasses(Protocol):
    """What resolution needs of a model: its name and its class lookup."""

    spec: str

    def class_index(self, name: str) -> int: ...


def channel_out_of_range(layer: str, channel: int, channels: int) -> FeaturelensError:
    return FeaturelensError(f"channel {channel} out of range for layer {layer!r}: valid channels are 0..{channels - 1}")


def position_out_of_range(layer: str, position: tuple[int, ...], spatial: tuple[int, ...]) -> FeaturelensError:
    shown = ",".join(map(str, position))
    valid = ",".join(f"0..{side - 1}" for side in spatial)
    if len(position) != len(spatial):
        form = "T (one index along time)" if len(spatial) == 1 else "Y,X"
        return FeaturelensError(f"position {shown} does not fit layer {layer!r}, a {len(spatial)}-D map: give {form} in {valid}")
    return FeaturelensError(f"position {shown} out of range for layer {layer!r} at this input size: valid {valid}")


def check_position(layer: str, position: tuple[int, ...], spatial: tuple[int, ...]) -> None:
    """Raise unless `position` lies inside a map of size `spatial`."""
    if len(position) != len(spatial) or not all(0 <= p < side for p, side in zip(position, spatial)):
        raise position_out_of_range(layer, position, spatial)


def resolve_expression(
    expression: UnitExpression, model: HasClasses, shapes: Probe | Mapping[str, tuple[int, ...]] | Sequence[LayerInfo], positions: bool = True
) -> UnitExpression:
    """Validate every unit against the layers' output shapes (a model's `Probe`, {layer: shape without batch},
    or `LayerInfo`s) and replace class names by indices. `positions` False leaves neuron positions to be checked later
    (against a map of another size). Errors name the valid range or the closest layer names."""
    layouts: Mapping[str, Layout | None] | None = None
    if isinstance(shapes, Probe):
        for layer in expression.layers:
            reason = shapes.unreachable(layer, model.spec)
            if reason:
                raise FeaturelensError(reason)
        shapes = shapes.layers
    if not isinstance(shapes, Mapping):
        layouts = {info.name: info.layout for info in shapes}
        shapes = {info.name: info.shape for info in shapes}
    return expression.map_units(lambda unit: resolve_unit(unit, model, shapes, positions, layouts))


def resolve_unit(
    unit: Unit, model: HasClasses, shapes: Mapping[str, tuple[int, ...]], positions: bool = True,
    layouts: Mapping[str, Layout | None] | None = None,
) -> Unit:
    """One unit of `resolve_expression`; `layouts` (when known) lets `@cls` be checked against the layer's tokens."""
    if unit.layer not in shapes:
        raise FeaturelensError(unknown_layer_message(unit.layer, list(shapes)))
    shape = shapes[unit.layer]
    channels = shape[0] if shape else 1
    if unit.class_name is not None:
        return Unit(unit.layer, model.class_index(unit.class_name))
    if unit.direction is not None:
        length = load_direction(unit.direction).shape[0]
        if length != channels:
            raise FeaturelensError(f"direction {unit.direction!r} has {length} values but layer {unit.layer!r} has {channels} channels")
        return unit
    if unit.channel is not None and not 0 <= unit.channel < channels:
        raise channel_out_of_range(unit.layer, unit.channel, channels)
    if unit.position == CLS:
        layout = (layouts or {}).get(unit.layer)
        if layouts is not None and (layout is None or not layout.extra_tokens):
            raise FeaturelensError(f"layer {unit.layer!r} has no class token ({layout.describe() if layout else 'no tokens'}): drop the @cls part")
        return unit
    if unit.position is not None and len(shape) < 2:
        suffix = "@center" if unit.position == CENTER else "@" + ",".join(map(str, unit.position))
        raise FeaturelensError(f"layer {unit.layer!r} has no spatial map: drop the {suffix} part")
    if positions and isinstance(unit.position, tuple):
        check_position(unit.layer, unit.position, tuple(shape[1:]))
    return unit


def single_unit(address: str | Unit | UnitExpression, purpose: str, example: str = "conv3:5 or conv3:5@2,1") -> Unit:
    """The one unit of an address for techniques that look at one unit at a time (projection, decoding)."""
    if isinstance(address, Unit):
        return address
    expression = parse_units(address) if isinstance(address, str) else address
    if len(expression.terms) != 1 or expression.terms[0][0] != 1.0:
        raise FeaturelensError(f"{purpose} takes one unit or layer at a time, not a combination: got {str(address)!r} (e.g. {example})")
    return expression.terms[0][1]


def neuron_at(unit: Unit, shape: tuple[int, ...]) -> Unit:
    """`unit` with @center made an explicit position for a layer of output shape `shape`."""
    if unit.position == CENTER and len(shape) >= 2:
        return replace(unit, position=tuple(side // 2 for side in shape[1:]))
    return unit
