"""Receptive fields: which input pixels a layer's unit at (y, x) sees, exactly, for a given input size.

Two methods, and a check that picks between them:

- analytic: fold the convolutions, pools and padding modules the forward pass runs up to the layer
  (`geometry.walk`: padding computed at run time, such as TensorFlow's asymmetric "SAME", is read
  from the padding module itself at this input size);
- measured: the gradient footprint of units in a *linearised* copy of the model (activations and
  normalisations removed, max-pools made average pools, every weight a positive constant), where
  no path can cancel or be gated, so the nonzero-gradient pixels are exactly the pixels a unit depends on.

`receptive_fields` walks; it then checks the walk's boxes against the footprints of four units
(corners, centre and its neighbour). When they agree the result is "analytic"; when they do not
(branches in parallel, padding done inside a forward, unknown modules) it measures a box for every
output row and column ("measured"). Layers without a spatial map (`flatten`, `fc`, `logit`) are
"global": every unit sees the whole image; so are maps whose corner unit already depends on every pixel (token
grids after self-attention, whose attention makes every field the whole input).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
from torch import nn

from featurelens.capture import capture_activations
from featurelens.geometry.walk import SpatialOp, pair, spatial_chains
from featurelens.models import LoadedModel

PixelRange = tuple[int, int]  # [start, stop) in input pixels


@dataclass(frozen=True)
class ReceptiveField:
    """What a unit of `layer` sees, for inputs of `image_size` (H, W). Pairs are (y, x).

    Unit (y, x) sees input rows `offset[0] + y*stride[0]` … `+ size[0] - 1` (columns likewise),
    clipped to the image; `offset` is negative where the layer sees padding. `rows`/`cols`, when
    set (measured fields), give each output row's / column's clipped span directly.
    """

    layer: str
    size: tuple[int, int]
    stride: tuple[int, int]
    offset: tuple[int, int]
    image_size: tuple[int, int]
    method: str  # "analytic" | "measured" | "global"
    rows: tuple[PixelRange, ...] | None = None
    cols: tuple[PixelRange, ...] | None = None

    def box(self, y: int, x: int) -> tuple[int, int, int, int]:
        """Clipped crop box (x0, y0, x1, y1) of unit (y, x) in input pixels; x1, y1 exclusive."""
        height, width = self.image_size
        if self.method == "global":
            return 0, 0, width, height
        y0, y1 = self.rows[y] if self.rows else _span(self.offset[0], self.stride[0], self.size[0], y, height)
        x0, x1 = self.cols[x] if self.cols else _span(self.offset[1], self.stride[1], self.size[1], x, width)
        return x0, y0, x1, y1

    def summary(self) -> dict:
        return {"layer": self.layer, "size": list(self.size), "stride": list(self.stride), "offset": list(self.offset),
                "image_size": list(self.image_size), "method": self.method}

    def to_dict(self) -> dict:
        """`summary()` plus the measured spans: all `from_dict` needs to rebuild the field."""
        spans = {name: [list(span) for span in value] if value else None for name, value in (("rows", self.rows), ("cols", self.cols))}
        return {**self.summary(), **spans}

    @classmethod
    def from_dict(cls, data: dict) -> "ReceptiveField":
        spans = {name: tuple(tuple(span) for span in data[name]) if data.get(name) else None for name in ("rows", "cols")}
        pairs = {name: tuple(data[name]) for name in ("size", "stride", "offset", "image_size")}
        return cls(data["layer"], method=data["method"], **pairs, **spans)


def _span(offset: int, stride: int, size: int, index: int, limit: int) -> PixelRange:
    start = offset + index * stride
    return max(start, 0), min(start + size, limit)


def global_field(layer: str, image_size: tuple[int, int]) -> ReceptiveField:
    """The field of a layer whose units each see the whole image."""
    return ReceptiveField(layer, image_size, image_size, (0, 0), image_size, "global")


def receptive_fields(model: LoadedModel, layers: list[str], size: int | tuple[int, int]) -> dict[str, ReceptiveField]:
    """Exact receptive field of every layer in `layers` for inputs of `size` pixels (int: square)."""
    image = (size, size) if isinstance(size, int) else tuple(size)
    layers = list(dict.fromkeys(layers))
    walked = analytic_fields(model, layers, image)
    linear = linearised(model.module)
    probe = torch.ones(_CHECKS, model.in_channels, *image, device=model.device, requires_grad=True)
    with torch.enable_grad():
        acts = capture_activations(linear, probe, layers)
        fields = {}
        for layer in layers:
            shape = tuple(acts[layer].shape[2:])
            if len(shape) != 2:  # vectors: after global pooling, flatten, fc, logit
                fields[layer] = global_field(layer, image)
            elif walked[layer] is not None and _agrees(walked[layer], acts[layer], probe):
                fields[layer] = walked[layer]
            elif _sees_everything(acts[layer], probe):  # attention (or a global mix): every position sees the whole input
                fields[layer] = global_field(layer, image)
            else:
                fields[layer] = measured_field(linear, layer, image, shape, model.in_channels)
    return fields


# --- analytic walk -------------------------------------------------------------------------------------


def analytic_fields(model, layers: list[str], image: tuple[int, int]) -> dict[str, ReceptiveField | None]:
    """Fold the spatial ops run before each layer; None where the forward is not such a chain."""
    return {layer: _compose(layer, ops, image) if ops is not None else None for layer, ops in spatial_chains(model, layers, image).items()}


def _compose(layer: str, ops: list[SpatialOp], image: tuple[int, int]) -> ReceptiveField:
    """Fold a chain of ops into size, stride (jump) and offset of unit (0, 0)."""
    size, jump, start = [1, 1], [1, 1], [0, 0]
    for op in ops:
        for axis in (0, 1):
            size[axis] += (op.extent[axis] - 1) * jump[axis]
            start[axis] -= op.pad[axis] * jump[axis]
            jump[axis] *= op.stride[axis]
    return ReceptiveField(layer, tuple(size), tuple(jump), tuple(start), image, "analytic")


# --- measurement on a linearised copy ------------------------------------------------------------------

_ACTIVATIONS = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU, nn.Mish, nn.Hardswish,
    nn.Hardsigmoid, nn.Hardtanh, nn.Sigmoid, nn.Tanh, nn.Softplus,
)
_NORMS = (nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.LayerNorm, nn.modules.instancenorm._InstanceNorm, nn.LocalResponseNorm)


def linearised(module: nn.Module) -> nn.Module:
    """A copy in which every input pixel a unit depends on gets a strictly positive gradient.

    Activations and normalisations become identities, max-pools average pools, and every
    convolution/linear weight a positive constant (bias 0), so no path is gated or cancels. The
    constant is 1/(in-channels × sqrt(kernel area)): a gradient then grows or shrinks by at most
    sqrt(kernel area) a layer, which float32 holds for ~80 layers of 3×3 without under- or overflow.
    """
    linear = copy.deepcopy(module).float().eval()
    for name, sub in list(linear.named_modules()):
        replacement = None
        if isinstance(sub, _ACTIVATIONS + _NORMS):
            replacement = nn.Identity()
        elif isinstance(sub, nn.MaxPool2d) and pair(sub.dilation) == (1, 1):
            replacement = nn.AvgPool2d(sub.kernel_size, sub.stride, sub.padding, sub.ceil_mode)
        elif isinstance(sub, nn.MaxPool1d) and sub.dilation in (1, (1,)):
            replacement = nn.AvgPool1d(sub.kernel_size, sub.stride, sub.padding, sub.ceil_mode)
        elif isinstance(sub, nn.AdaptiveMaxPool2d):
            replacement = nn.AdaptiveAvgPool2d(sub.output_size)
        if replacement is not None and name:
            parent_name, _, child = name.rpartition(".")
            setattr(linear.get_submodule(parent_name) if parent_name else linear, child, replacement)
    with torch.no_grad():
        for sub in linear.modules():
            weight = getattr(sub, "weight", None)
            if isinstance(sub, (nn.Conv2d, nn.Conv1d, nn.Linear)) and isinstance(weight, torch.Tensor):
                area = weight[0, 0].numel()
                weight.fill_(1.0 / (weight.shape[1] * math.sqrt(area)))
                if getattr(sub, "bias", None) is not None:
                    sub.bias.zero_()
    for p in linear.parameters():
        p.requires_grad_(False)
    return linear


def footprints(linear: nn.Module, layer: str, image: tuple[int, int], units: list[tuple[int, int]], in_channels: int) -> torch.Tensor:
    """Bool [len(units), H, W]: input pixels with nonzero gradient of (all channels of) each unit (y, x)."""
    device = next(linear.parameters()).device
    probe = torch.ones(len(units), in_channels, *image, device=device, requires_grad=True)
    with torch.enable_grad():
        act = capture_activations(linear, probe, [layer])[layer]
        seed = torch.zeros_like(act)
        for b, (y, x) in enumerate(units):
            seed[b, :, y, x] = 1.0
        (grad,) = torch.autograd.grad(act, probe, seed)
    return grad.abs().sum(1) > 0


def _bounds(mask: torch.Tensor) -> tuple[PixelRange, PixelRange]:
    """([y0, y1), [x0, x1)) of the nonzero pixels of one [H, W] mask."""
    ys = torch.nonzero(mask.any(1)).flatten()
    xs = torch.nonzero(mask.any(0)).flatten()
    return (int(ys[0]), int(ys[-1]) + 1), (int(xs[0]), int(xs[-1]) + 1)


_CHECKS = 4  # units checked per layer: two corners, the centre and its lower-right neighbour


def _check_units(h: int, w: int) -> list[tuple[int, int]]:
    return [(0, 0), (h - 1, w - 1), (h // 2, w // 2), (min(h // 2 + 1, h - 1), min(w // 2 + 1, w - 1))]


def _agrees(field: ReceptiveField, act: torch.Tensor, probe: torch.Tensor) -> bool:
    """Whether the walk's boxes equal the footprints of the check units in the linearised activations `act`."""
    h, w = act.shape[2:]
    units = _check_units(h, w)
    seed = torch.zeros_like(act)
    for b, (y, x) in enumerate(units):
        seed[b, :, y, x] = 1.0
    (grad,) = torch.autograd.grad(act, probe, seed, retain_graph=True)
    masks = grad.abs().sum(1) > 0
    for (y, x), mask in zip(units, masks):
        x0, y0, x1, y1 = field.box(y, x)
        expected = torch.zeros_like(mask)
        expected[y0:y1, x0:x1] = True
        if not torch.equal(mask, expected):
            return False
    return True


def _sees_everything(act: torch.Tensor, probe: torch.Tensor) -> bool:
    """Whether the two opposite corner units of a map each depend on every input pixel (then every unit between them
    does: attention layers), so measuring each row and column would only find the whole image again."""
    seed = torch.zeros_like(act)
    seed[0, :, 0, 0] = 1.0
    seed[1, :, -1, -1] = 1.0
    (grad,) = torch.autograd.grad(act, probe, seed, retain_graph=True)
    return bool((grad[:2].abs().sum(1) > 0).all())


def fit_spans(spans: list[PixelRange], limit: int) -> tuple[int, int, int]:
    """(size, stride, offset) along one axis from clipped spans: starts above 0 and stops below `limit` are unclipped."""
    starts = [i for i, (a, _) in enumerate(spans) if a > 0]
    stops = [i for i, (_, b) in enumerate(spans) if b < limit]
    stride = limit
    for found in (starts, stops):
        pairs = [i for i in found if i + 1 in found]
        if pairs:
            edge = 0 if found is starts else 1
            stride = spans[pairs[0] + 1][edge] - spans[pairs[0]][edge]
            break
    offset = spans[starts[0]][0] - starts[0] * stride if starts else spans[0][0]
    size = spans[stops[0]][1] - offset - stops[0] * stride if stops else max(b - a for a, b in spans)
    return size, stride, offset


def measured_field(linear: nn.Module, layer: str, image: tuple[int, int], shape: tuple[int, int], in_channels: int, chunk: int = 16) -> ReceptiveField:
    """Measure the clipped span of every output row and column from footprints; fit size/stride/offset where unclipped."""
    h, w = shape
    rows: list[PixelRange] = []
    cols: list[PixelRange] = []
    for axis, count, out in ((0, h, rows), (1, w, cols)):
        units = [(i, w // 2) if axis == 0 else (h // 2, i) for i in range(count)]
        for begin in range(0, count, chunk):
            for mask in footprints(linear, layer, image, units[begin : begin + chunk], in_channels):
                out.append(_bounds(mask)[axis])
    fitted = [fit_spans(rows, image[0]), fit_spans(cols, image[1])]
    size, stride, offset = ([axis[i] for axis in fitted] for i in range(3))
    return ReceptiveField(layer, tuple(size), tuple(stride), tuple(offset), image, "measured", tuple(rows), tuple(cols))
