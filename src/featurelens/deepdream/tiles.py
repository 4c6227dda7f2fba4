"""Gradients of the DeepDream objective computed tile by tile, so memory follows the tile size, not the image.

Each tile owns the layer positions whose pixels fall in its core and runs the network on the core
plus a margin as wide as those positions' receptive field. Tiles start on multiples of the layer
stride (and every crop keeps the image's size modulo the stride, so size-dependent "SAME" padding
lines up), hence every owned activation equals its untiled value and the tiles' gradients,
added where crops overlap, equal the untiled gradient. A random grid offset each step moves the
tile borders. Objectives on non-spatial layers (logits) cannot be split by position: there each
tile is dreamed on its own (the classic approximation, no margin). A model that takes one input size
only (a ViT) sees the whole image resampled to that size, and its gradient flows back through the resampling.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from featurelens.capture import ActivationCapture
from featurelens.deepdream.objective import DreamObjective
from featurelens.errors import FeaturelensError
from featurelens.geometry import tile_geometry
from featurelens.models.loaded import LoadedModel
from featurelens.units import LayerWindow

DEFAULT_TILE = 512
REFERENCE_SIDE = 224  # the input side DeepDream's default 32 px roll was chosen for


@dataclass(frozen=True)
class TileSpan:
    """One tile along one axis: the crop the network sees and the core whose positions the tile owns (pixels)."""

    crop: tuple[int, int]
    core: tuple[int, int]


class TiledGradient:
    """`(value, gradient) = tiled(image, generator)` for images [1, C, H, W] in [0, 1] of any size."""

    def __init__(self, model: LoadedModel, objective: DreamObjective, tile: int | None = None, fixed: tuple[int, int] | None = None):
        """`tile` None picks DEFAULT_TILE, or for deep layers a tile whose core is at least half of it; `fixed`: the one
        (height, width) the model takes, which every image is resampled to (no tiles then)."""
        if tile is not None and tile < model.min_size:
            raise FeaturelensError(f"{{parameter}} {tile} is below the minimum input size {model.min_size} of model {model.spec!r}: use {{parameter}} {model.min_size} or more", parameter="tile")
        self.model = model
        self.objective = objective
        self.strides: dict[str, int] = {}
        self.stride, self.margin = 1, 0
        self.fixed = fixed
        if objective.tileable and fixed is None:
            geometries = {layer: tile_geometry(model, layer) for layer in objective.layers}
            self.strides = {layer: g.stride for layer, g in geometries.items()}
            self.stride = math.lcm(*self.strides.values())
            self.margin = self.stride * math.ceil(max(g.margin for g in geometries.values()) / self.stride)
        self.tile = tile if tile is not None else max(DEFAULT_TILE, 4 * self.margin + 2 * self.stride)
        self.capture = ActivationCapture(model.module, objective.layers)
        self._full_cache: dict[tuple[int, int], dict[str, tuple[int, int]]] = {}

    def check(self, height: int, width: int) -> None:
        """Raise if the image needs tiling but the tile leaves no room for a core inside its margins."""
        if max(height, width) <= self.tile or not self.objective.tileable or self.fixed:
            return
        for length in (height, width):
            if length > self.tile and self._core(length) < self.stride:
                need = 2 * self.margin + 2 * self.stride
                raise FeaturelensError(
                    f"{{parameter}} {self.tile} is too small for {', '.join(self.objective.layers)}: its receptive field needs "
                    f"{self.margin} pixels of margin on each side; use {{parameter}} {need} or more", parameter="tile",
                )

    def _core(self, length: int) -> int:
        return (self.tile - 2 * self.margin - length % self.stride) // self.stride * self.stride

    def spans(self, length: int, offset: int = 0) -> list[TileSpan]:
        """Tiles along one axis; `offset` (a multiple of the stride) shifts the grid of core borders."""
        if length <= self.tile or self.fixed:
            return [TileSpan((0, length), (0, length))]
        core = self._core(length) if self.objective.tileable else self.tile
        remainder = length % self.stride
        starts = [0] + [s for s in range(offset % core, length, core) if s > 0]
        spans = []
        for i, start in enumerate(starts):
            end = starts[i + 1] if i + 1 < len(starts) else length
            crop_end = length if end == length else min(length, end + self.margin + remainder)
            spans.append(TileSpan((max(0, start - self.margin), crop_end), (start, end)))
        return spans

    def _offsets(self, height: int, width: int, generator: torch.Generator | None) -> tuple[int, int]:
        if generator is None or self.fixed:
            return 0, 0
        offsets = []
        for length in (height, width):
            core = self._core(length) if self.objective.tileable else self.tile
            choices = max(1, core // self.stride) if length > self.tile else 1
            offsets.append(int(torch.randint(choices, (1,), generator=generator)) * self.stride)
        return offsets[0], offsets[1]

    def __call__(self, image: torch.Tensor, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-image objective values [B] and their gradient with respect to `image` [B, C, H, W], accumulated over tiles."""
        return self._run(image, generator, with_grad=True)

    @torch.no_grad()
    def value(self, image: torch.Tensor) -> torch.Tensor:
        """Per-image objective values [B] of `image` (tiled the same way, no gradient), on the CPU."""
        return self._run(image, None, with_grad=False)[0]

    def _run(self, image: torch.Tensor, generator: torch.Generator | None, with_grad: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        height, width = image.shape[-2:]
        self.check(height, width)
        offset_y, offset_x = self._offsets(height, width, generator)
        full = self.map_sizes(image) if self.objective.tileable and self.fixed is None else None
        gradient = torch.zeros_like(image) if with_grad else None
        total = torch.zeros(image.shape[0], dtype=torch.float64)
        with self.capture:
            for rows in self.spans(height, offset_y):
                for cols in self.spans(width, offset_x):
                    crop = image[:, :, rows.crop[0]:rows.crop[1], cols.crop[0]:cols.crop[1]].detach()
                    if with_grad:
                        crop.requires_grad_(True)
                    with torch.set_grad_enabled(with_grad):
                        activations = self.capture.run(self.model.normalize(self.seen(crop)))
                        windows = self._windows(rows, cols, full) if full is not None else None
                        value = self.objective.value(activations, windows)
                    total += value.detach().double().cpu()
                    if with_grad and value.requires_grad:
                        (grad,) = torch.autograd.grad(value.sum(), crop)
                        gradient[:, :, rows.crop[0]:rows.crop[1], cols.crop[0]:cols.crop[1]] += grad
        return total.float(), gradient

    def _windows(self, rows: TileSpan, cols: TileSpan, full: dict[str, tuple[int, int]]) -> dict[str, LayerWindow]:
        windows = {}
        for layer, s in self.strides.items():
            top, left = rows.crop[0] // s, cols.crop[0] // s
            owned_rows = (rows.core[0] // s - top, -(-rows.core[1] // s) - top)
            owned_cols = (cols.core[0] // s - left, -(-cols.core[1] // s) - left)
            windows[layer] = LayerWindow((top, left), owned_rows, owned_cols, full[layer])
        return windows

    def roll_limit(self, jitter: int, height: int, width: int) -> int:
        """The largest random roll for an image of this size: `jitter`, or for a fixed-size model `jitter` scaled from
        the 224 px it is meant for to the image's shorter side (a transformer's position embedding is not shift
        invariant: rolling a 40 px photo by 32 px, resampled to 28, moves everything it sees, and the dream falls back)."""
        return jitter if self.fixed is None else round(jitter * min(height, width) / REFERENCE_SIDE)

    def seen(self, crop: torch.Tensor) -> torch.Tensor:
        """What the network sees of a crop: the crop, or for a fixed-size model the crop resampled to its size."""
        if self.fixed is None or tuple(crop.shape[-2:]) == self.fixed:
            return crop
        return F.interpolate(crop, size=self.fixed, mode="bilinear", antialias=True, align_corners=False)

    @torch.no_grad()
    def map_sizes(self, image: torch.Tensor) -> dict[str, tuple[int, int]]:
        """Each layer's full map size for this image size, from a forward of the bottom-right corner alone
        (for a fixed-size model: of its one size, whatever the image's)."""
        height, width = image.shape[-2:]
        if self.fixed is not None:
            with self.capture:
                activations = self.capture.run(self.model.normalize(torch.zeros_like(image[:1, :, :1, :1]).expand(1, -1, *self.fixed)))
            return {layer: tuple(activations[layer].shape[-2:]) for layer in self.objective.layers}
        if (height, width) not in self._full_cache:
            top = self.stride * max(0, (height - self.tile) // self.stride)
            left = self.stride * max(0, (width - self.tile) // self.stride)
            corner = torch.zeros_like(image[:, :, top:, left:])
            with self.capture:
                activations = self.capture.run(self.model.normalize(corner))
            self._full_cache[(height, width)] = {
                layer: (top // s + activations[layer].shape[-2], left // s + activations[layer].shape[-1])
                for layer, s in self.strides.items()
            }
        return self._full_cache[(height, width)]
