"""What a unit's value is, on captured activations: one number per image.

    channel   LAYER:C       mean of the channel's map over space (or time; a token layer's patch tokens)
    neuron    LAYER:C@Y,X   the map's value at one position (@center: the middle one)
    token     LAYER:C@cls   feature C of a token layer's class token (its first extra token)
    layer     LAYER         mean of squares over channels and positions (the DeepDream objective)
    direction LAYER:dir=v   the space-averaged activation projected on the unit-length vector v
    class     logit:N       the logit itself ([B, C] outputs are channels without space)

A `LayerWindow` restricts a 2-D map to the positions a DeepDream tile owns; the value is then that
tile's share, normalised by the full map's size, so the shares of all tiles add up to the value.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from featurelens.capture.layout import extra_tokens_key
from featurelens.errors import FeaturelensError
from featurelens.units.address import CENTER, CLS, Unit, UnitExpression
from featurelens.units.directions import unit_direction


@dataclass(frozen=True)
class LayerWindow:
    """Positions of one layer a tile owns: crop offset in the full map, owned rows/cols in crop coordinates, full size."""

    offset: tuple[int, int]
    rows: tuple[int, int]
    cols: tuple[int, int]
    full: tuple[int, int]


def position_of(unit: Unit, spatial: tuple[int, ...]) -> tuple[int, ...]:
    """The (y, x) a neuron unit points at in a map of size `spatial` (resolving @center)."""
    return tuple(side // 2 for side in spatial) if unit.position == CENTER else tuple(unit.position)


def unit_value(
    unit: Unit, activation: torch.Tensor, window: LayerWindow | None = None, extra_tokens: torch.Tensor | None = None
) -> torch.Tensor:
    """The value each image gives for `unit`: activation [B, C, …] → [B]. `window` restricts a 2-D map to a tile's share;
    `extra_tokens` [B, C, k] are the layer's class/register tokens, which an `@cls` unit reads."""
    if unit.position == CLS:
        if extra_tokens is None:
            raise FeaturelensError(f"layer {unit.layer!r} has no class token: drop the @cls part")
        return extra_tokens[:, unit.channel, 0]
    if window is not None and activation.dim() == 4:
        return _windowed_value(unit, activation, window)
    batch = activation.shape[0]
    if unit.direction is not None:
        pooled = activation.reshape(batch, activation.shape[1], -1).mean(-1)
        return pooled @ unit_direction(unit.direction, activation)
    if unit.channel is None:
        return activation.reshape(batch, -1).pow(2).mean(-1)
    channel = activation[:, unit.channel]
    if channel.dim() == 1:
        return channel
    if unit.position is None:
        return channel.reshape(batch, -1).mean(-1)
    return channel[(slice(None), *position_of(unit, tuple(channel.shape[1:])))]


def _windowed_value(unit: Unit, act: torch.Tensor, window: LayerWindow) -> torch.Tensor:
    (r0, r1), (c0, c1) = window.rows, window.cols
    owned = act[:, :, r0:r1, c0:c1]
    positions = window.full[0] * window.full[1]
    if unit.direction is not None:
        return (owned * unit_direction(unit.direction, act).view(1, -1, 1, 1)).sum((1, 2, 3)) / positions
    if unit.channel is None:
        return owned.pow(2).sum((1, 2, 3)) / (act.shape[1] * positions)
    if unit.position is None:
        return owned[:, unit.channel].sum((1, 2)) / positions
    y, x = position_of(unit, window.full)
    local_y, local_x = y - window.offset[0], x - window.offset[1]
    if r0 <= local_y < r1 and c0 <= local_x < c1:
        return act[:, unit.channel, local_y, local_x]
    return act.new_zeros(act.shape[0])


def expression_value(
    expression: UnitExpression, activations: dict[str, torch.Tensor], windows: dict[str, LayerWindow] | None = None
) -> torch.Tensor:
    """Weighted sum of unit values, per image: [B]."""
    total = None
    for weight, unit in expression.terms:
        window = windows.get(unit.layer) if windows else None
        value = weight * unit_value(unit, activations[unit.layer], window, activations.get(extra_tokens_key(unit.layer)))
        total = value if total is None else total + value
    return total


def layers_needed(expressions: list[UnitExpression]) -> list[str]:
    """The layers any of the expressions reads, in first-use order."""
    return list(dict.fromkeys(layer for e in expressions for layer in e.layers))


class PerImageTargets:
    """A batch where image i has its own unit expression: `values(activations)` gives each image its own value [B].

    Consecutive images sharing an expression are evaluated together; when every image's target is one
    weighted channel of one layer (the common "one channel per image" render), one gather does all.
    """

    def __init__(self, targets: list[UnitExpression]):
        self.targets = list(targets)
        self.layers = layers_needed(self.targets)
        self.groups: list[tuple[slice, UnitExpression]] = []
        start = 0
        for i in range(1, len(self.targets) + 1):
            if i == len(self.targets) or self.targets[i] != self.targets[start]:
                self.groups.append((slice(start, i), self.targets[start]))
                start = i
        self.channel_batch = self._one_channel_each()

    def _one_channel_each(self) -> tuple[str, torch.Tensor, torch.Tensor] | None:
        """(layer, channels, weights) when every image's target is one weighted channel of one layer."""
        units = [t.terms[0] for t in self.targets if len(t.terms) == 1]
        if len(units) != len(self.targets) or len({unit.layer for _, unit in units}) != 1:
            return None
        if any(u.channel is None or u.position is not None or u.direction is not None for _, u in units):
            return None
        return units[0][1].layer, torch.tensor([u.channel for _, u in units]), torch.tensor([w for w, _ in units])

    def values(self, activations: dict[str, torch.Tensor], gather: bool = True) -> torch.Tensor:
        """Each image's value of its own expression: [B]. `gather` False forces the general path."""
        if gather and self.channel_batch is not None:
            layer, channels, weights = self.channel_batch
            act = activations[layer]
            picked = act[torch.arange(len(self.targets), device=act.device), channels.to(act.device)]
            return weights.to(act) * picked.reshape(len(self.targets), -1).mean(1)
        values = []
        for span, expression in self.groups:
            values.append(expression_value(expression, {layer: act[span] for layer, act in activations.items()}))
        return torch.cat(values) if len(values) > 1 else values[0]
