"""Transformation robustness (Lucid's standard transforms) as one random affine warp per image.

Lucid pads by 12 px of grey, jitters by 8, scales by 0.9–1.1, rotates by ±10°, jitters by 4. Here
that chain is folded into a single `grid_sample` per step: cheap next to the network's forward.
A model that takes one input size only (a ViT) gets that size back: with `keep_size` the same warp is
sampled on the input's own grid (the crop of the padded canvas resampled to the input size).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F

LUCID_SCALES = tuple(1 + (i - 5) / 50 for i in range(11))
DISPLAY_SIDE = 128  # the side an image is also judged at (thumbnails; Lucent renders at it): large renders must hold there
LUCID_ANGLES = tuple(range(-10, 11)) + (0,) * 5


@dataclass(frozen=True)
class RobustnessTransform:
    """Random pad + jitter + scale + rotation, applied independently to every image of a batch."""

    pad: int = 12
    jitter: int = 12  # Lucid's two jitters (8 then 4) add up to 12 px of random crop
    scales: tuple[float, ...] = LUCID_SCALES
    angles: tuple[float, ...] = LUCID_ANGLES
    keep_size: bool = False  # resample the warped crop back to the input size (models that take one size only)
    span_display: bool = True  # large images: widen the scales down to the display side's (`spanning`)

    def for_size(self, size: int) -> "RobustnessTransform":
        """Shrink the pad and jitter for images smaller than 128 px (Lucid's values are meant for ≥128 px)."""
        if size >= 128:
            return self
        factor = size / 128
        return replace(self, pad=round(self.pad * factor), jitter=round(self.jitter * factor))

    def spanning(self, size: int) -> "RobustnessTransform":
        """For an image of `size` px well above `DISPLAY_SIDE`, the scales widened down to the display's (with a 15 %
        margin), geometrically spaced: the image must hold when shown at 128 px, which scales its patterns by
        128 / size (at 224 px: 0.66–1.1; the activation shown at 128 px goes from 65 % of the full-size one to 88 %,
        RESULTS.md). `span_display=False` keeps the scales as they are."""
        if not self.span_display or size < DISPLAY_SIDE * 1.25:
            return self
        low, high = min(min(self.scales), DISPLAY_SIDE / size * 1.15), max(self.scales)
        return replace(self, scales=tuple(round(low * (high / low) ** (i / 10), 4) for i in range(11)))

    def keeping_size(self) -> "RobustnessTransform":
        """The same transform with outputs of the input's size."""
        return replace(self, keep_size=True)

    def crop_side(self, size: int) -> int:
        """Side of the crop of the padded canvas that one warp takes."""
        return size + 2 * self.pad - self.jitter

    def output_size(self, size: int) -> int:
        return size if self.keep_size else self.crop_side(size)

    def __call__(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """[B, C, H, W] in [0, 1] → [B, C, H', W'] warped; pixels from outside the image are grey (0.5)."""
        batch, channels, size, _ = images.shape
        padded = size + 2 * self.pad
        out = self.crop_side(size)
        device = images.device
        pick = lambda options: torch.tensor(options, dtype=images.dtype, device=device)[
            torch.randint(len(options), (batch,), generator=generator, device=device)
        ]
        scale = pick(self.scales)
        angle = pick(self.angles) * (math.pi / 180)
        offset = torch.randint(self.jitter + 1, (batch, 2), generator=generator, device=device).to(images.dtype)
        crop = out / padded  # fraction of the padded canvas the output covers
        cos, sin = torch.cos(angle) * crop / scale, torch.sin(angle) * crop / scale
        # Output pixels map into the padded canvas; normalise to the *unpadded* image for grid_sample.
        ratio = padded / size
        shift = (2 * offset - self.jitter) / padded
        theta = torch.stack(
            [torch.stack([cos, -sin, shift[:, 1]], 1), torch.stack([sin, cos, shift[:, 0]], 1)], 1
        ) * ratio
        side = self.output_size(size)  # `out`, or the input's size when resampled back to it
        grid = F.affine_grid(theta, [batch, channels, side, side], align_corners=False)
        return F.grid_sample(images - 0.5, grid, mode="bilinear", padding_mode="zeros", align_corners=False) + 0.5
