"""How far a layer's units see, for cutting an image into tiles without changing any activation.

A tile that owns the layer positions of its core needs every pixel those positions depend on;
`TileGeometry.margin` is that reach in pixels (an upper bound over input sizes, rounded up to the
stride). It folds the chain of spatial ops before the layer with each padding's range over sizes;
where the forward is no simple chain (parallel branches), the measured receptive field bounds it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from featurelens.capture import probe
from featurelens.geometry.receptive_field import receptive_fields
from featurelens.geometry.walk import spatial_chains

PROBE_MULTIPLE = 64  # probe at a multiple of 64 pixels, so every stride up to 64 divides it


@dataclass(frozen=True)
class TileGeometry:
    """Stride (input pixels per layer position), receptive-field size and the margin (pixels) a tile needs on each side."""

    stride: int
    receptive_field: int
    margin: int


def tile_geometry(model, layer: str) -> TileGeometry:
    """The stride and tile margin of a layer with a 2-D map."""
    size = PROBE_MULTIPLE * math.ceil(max(model.input_size, model.min_size) / PROBE_MULTIPLE)
    shape = probe(model, size).shapes()[layer]
    stride = max(1, round(size / shape[-2])) if len(shape) == 3 else size
    chain = spatial_chains(model, [layer], (size, size))[layer]
    if chain is None:
        field = receptive_fields(model, [layer], size)[layer].size[0]
        return TileGeometry(stride, field, stride * math.ceil(field / stride))
    field, jump, least_before, most_before = 1, 1, 0, 0
    for op in chain:
        (least, most), _ = op.pad_range
        least_before += least * jump
        most_before += most * jump
        field += (op.extent[0] - 1) * jump
        jump *= op.stride[0]
    # Owned positions p in [c0/S, c1/S) see pixels [p*S - before, p*S - before + field - 1].
    reach = max(most_before, field - stride - least_before, 0)
    return TileGeometry(stride, field, stride * math.ceil(reach / stride))
