"""How far a layer's units see: stride and receptive-field margin, so tiles can be cut without changing gradients.

A tile that owns the layer positions of its core needs every pixel those positions depend on;
`LayerGeometry.margin` is that reach in pixels (an upper bound, rounded up to the stride), found by
walking the convolutions, poolings and paddings the forward pass runs before the layer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from featurelens.capture import find_layer
from featurelens.models.loaded import LoadedModel


@dataclass(frozen=True)
class LayerGeometry:
    """Stride (input pixels per layer position) and the margin (pixels) a tile needs on each side."""

    stride: int
    receptive_field: int
    margin: int


class _Done(Exception):
    """Stops the probe forward once the layer has run."""


def layer_geometry(model: LoadedModel, layer: str) -> LayerGeometry:
    """Stride from the layer's output shape, margin from the receptive field of the modules before it."""
    target = find_layer(model.module, layer)
    probe_size = 64 * math.ceil(max(model.input_size, model.min_size) / 64)
    finished: list[nn.Module] = []
    shape: list[int] = []

    def hook(module, args, output):
        finished.append(module)
        if module is target:
            shape.extend(output.shape)
            raise _Done

    handles = [m.register_forward_hook(hook) for m in model.module.modules()]
    try:
        with torch.no_grad():
            model.module(torch.zeros(1, model.in_channels, probe_size, probe_size, device=model.device))
    except _Done:
        pass
    finally:
        for handle in handles:
            handle.remove()
    stride = max(1, round(probe_size / shape[-2])) if len(shape) == 4 else probe_size
    rf, jump, left_low, left_high = 1, 1, 0, 0
    for module in finished:
        footprint = _footprint(module)
        if footprint is None:
            continue
        kernel, step, pad_low, pad_high = footprint
        left_low += pad_low * jump
        left_high += pad_high * jump
        rf += (kernel - 1) * jump
        jump *= step
    # Owned positions p in [c0/S, c1/S) see pixels [p*S - left, p*S - left + rf - 1].
    reach = max(left_high, rf - stride - left_low, 0)
    return LayerGeometry(stride, rf, stride * math.ceil(reach / stride))


def _pair(value) -> int:
    return int(value[0] if isinstance(value, (tuple, list)) else value)


def _footprint(module: nn.Module) -> tuple[int, int, int, int] | None:
    """(effective kernel, stride, least and most left padding) of a module that moves pixels, else None."""
    if isinstance(module, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
        kernel = (_pair(module.kernel_size) - 1) * _pair(getattr(module, "dilation", 1)) + 1
        stride = _pair(module.stride or module.kernel_size)
        padding = module.padding
        if padding == "same":
            return kernel, stride, (kernel - 1) // 2, (kernel - 1) // 2
        left = 0 if padding == "valid" else _pair(padding)
        return kernel, stride, left, left
    if isinstance(module, (nn.ZeroPad2d, nn.ConstantPad2d, nn.ReflectionPad2d, nn.ReplicationPad2d)):
        left = _pair(module.padding)
        return 1, 1, left, left
    if hasattr(module, "kernel_size") and hasattr(module, "stride"):  # a size-dependent "SAME" padding module
        kernel, stride = _pair(module.kernel_size), _pair(module.stride)
        return 1, 1, max(kernel - stride, 0) // 2, (kernel - 1) // 2
    return None
