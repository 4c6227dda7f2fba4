"""The chain of spatial operations the forward pass runs before a layer, read from the model's probe.

Each convolution, pooling or padding module is one `SpatialOp` (kernel extent, stride, padding
before the image). 1-D modules (Conv1d, MaxPool1d, AvgPool1d, 1-D padding) on [B, C, T] maps walk as
one row of an image, (1, T): a spectrogram's time axis is x. Padding modules that compute their padding at run time describe themselves:
any module with `padding_for(height, width) -> ((top, bottom), (left, right))` and
`padding_range() -> (least, most)` (e.g. TensorFlow-style "SAME" padding) is walked without this
module knowing its class. Receptive fields and DeepDream's tile margins both fold these chains.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from featurelens.capture import LOGIT, find_layer, probe

_PADS = (nn.ZeroPad2d, nn.ConstantPad2d, nn.ReflectionPad2d, nn.ReplicationPad2d)
_PADS_1D = (nn.ConstantPad1d, nn.ReflectionPad1d, nn.ReplicationPad1d)
_WINDOWS_1D = (nn.Conv1d, nn.MaxPool1d, nn.AvgPool1d)  # along time: maps [B, C, T] walk as one row (1, T)
_POOLS = (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d, *_WINDOWS_1D)
Pair = tuple[int, int]


@dataclass(frozen=True)
class SpatialOp:
    """One step along (y, x): kernel extent (dilated), stride, padding before the image at this size, and its range over sizes."""

    extent: Pair
    stride: Pair
    pad: Pair
    pad_range: tuple[Pair, Pair]  # ((least, most) along y, (least, most) along x)


class _Unknown:
    """Marks a spatial module the walk cannot model (padding inside a forward, odd output sizes)."""


UNKNOWN = _Unknown()


def pair(value) -> Pair:
    return (int(value), int(value)) if isinstance(value, int) else (int(value[0]), int(value[1]))


def _axes(module: nn.Module, value, identity: int) -> Pair:
    """A 2-D module's (y, x) pair; a 1-D module acts along x only (y keeps `identity`)."""
    if not isinstance(module, _WINDOWS_1D):
        return pair(value)
    return identity, int(value if isinstance(value, int) else value[0])


def describes_padding(module: nn.Module) -> bool:
    return callable(getattr(module, "padding_for", None)) and callable(getattr(module, "padding_range", None))


def spatial_op(module: nn.Module, in_hw: Pair, out_hw: Pair) -> SpatialOp | None | _Unknown:
    """The module's geometry: a `SpatialOp`, None for pointwise modules, `UNKNOWN` for what the walk cannot model."""
    if describes_padding(module):
        (top, _), (left, _) = module.padding_for(*in_hw)
        least, most = module.padding_range()
        return SpatialOp((1, 1), (1, 1), (top, left), ((least, most), (least, most)))
    if isinstance(module, _PADS):
        left, right, top, bottom = module.padding if len(module.padding) == 4 else (*module.padding, *module.padding)
        return SpatialOp((1, 1), (1, 1), (top, left), ((top, top), (left, left)))
    if isinstance(module, _PADS_1D):
        left = module.padding[0]
        return SpatialOp((1, 1), (1, 1), (0, left), ((0, 0), (left, left)))
    if isinstance(module, _POOLS):
        return _window_op(module, in_hw, out_hw)
    return UNKNOWN if in_hw != out_hw else None


def _window_op(module: nn.Module, in_hw: Pair, out_hw: Pair) -> SpatialOp | _Unknown:
    kernel = _axes(module, module.kernel_size, 1)
    stride = _axes(module, module.stride if module.stride is not None else module.kernel_size, 1)
    dilation = _axes(module, getattr(module, "dilation", 1), 1)
    extent = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    padding = module.padding
    if padding == "valid":
        padding = (0, 0)
    elif padding == "same":
        padding = tuple((e - 1) // 2 for e in extent)
    else:
        padding = _axes(module, padding, 0)
    ceil = getattr(module, "ceil_mode", False)
    for axis in (0, 1):
        span = in_hw[axis] + 2 * padding[axis] - extent[axis]
        expected = (-(-span // stride[axis]) if ceil else span // stride[axis]) + 1
        if ceil and (expected - 1) * stride[axis] >= in_hw[axis] + padding[axis]:
            expected -= 1  # PyTorch drops a last window that starts in the right padding
        if expected != out_hw[axis] and not (isinstance(module, (nn.Conv2d, nn.Conv1d)) and module.padding == "same"):
            return UNKNOWN  # e.g. padding done inside forward: the walk would be wrong
    return SpatialOp(extent, stride, padding, ((padding[0], padding[0]), (padding[1], padding[1])))


def spatial_chains(model, layers: list[str], size: Pair) -> dict[str, list[SpatialOp] | None]:
    """For each layer, the ops run before it at input size `size`; None where the forward is not such a chain."""
    root = model.module
    targets = {name for name in layers if name != LOGIT}
    for name in targets:
        find_layer(root, name)  # unknown names fail here, with the closest names
    modules = dict(root.named_modules())
    outputs: dict[str, Pair] = {}
    ops: list[SpatialOp] = []
    state = {"hw": size, "ok": True}
    reached: dict[str, tuple[int, bool]] = {}
    for call in probe(model, size).calls:
        module = modules[call.name]
        in_hw = call.input_hw
        outputs[call.name] = call.output_hw
        padding_child = next(
            (f"{call.name}.{child}" for child, sub in module.named_children()
             if (describes_padding(sub) or isinstance(sub, _PADS)) and f"{call.name}.{child}" in outputs),
            None,
        )
        if padding_child is not None:  # e.g. a convolution that pads its input through a child module
            in_hw = outputs[padding_child]
        is_leaf = not any(True for _ in module.children())
        if is_leaf or describes_padding(module) or isinstance(module, _PADS + _POOLS):
            op = spatial_op(module, in_hw, call.output_hw)
            if op is UNKNOWN or (op is not None and in_hw != state["hw"]):
                state["ok"] = False  # an op the walk cannot model, or one not fed by the previous op
            elif op is not None:
                ops.append(op)
                state["hw"] = call.output_hw
        if call.name in targets and call.name not in reached:
            reached[call.name] = (len(ops), state["ok"] and call.output_hw == state["hw"])
    chains: dict[str, list[SpatialOp] | None] = {}
    for name in layers:
        count, ok = reached.get(name, (0, False))
        chains[name] = list(ops[:count]) if ok else None
    return chains
