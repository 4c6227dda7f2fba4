"""Transformation robustness (Lucid's standard transforms) as one random affine warp per image.

Lucid pads by 12 px of grey, jitters by 8, scales by 0.9–1.1, rotates by ±10°, jitters by 4. Here
that chain is folded into a single `grid_sample` per step: cheap next to the network's forward.
A model that takes one input size only (a ViT) gets that size back: with `keep_size` the same warp is
sampled on the input's own grid (the crop of the padded canvas resampled to the input size).

An image is also judged at sizes other than its own (`spanning`): a CNN's unit likes its pattern at one scale and
loses half of it when the image is shown 1.75× larger (a 128 px image at 224), so the scales are widened to span them.
Lucent's 128 px images hold at 224 for that reason: `render_vis` upsamples every image below 224 px to 224 before the
network, so they are grown at about the scale of 224 px (without that upsample they lose half too: RESULTS.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F

LUCID_SCALES = tuple(1 + (i - 5) / 50 for i in range(11))
DISPLAY_SIDE = 128  # the side an image is also judged at (thumbnails; Lucent renders at it): large renders must hold there
SPAN_MARGIN = 1.25  # images shown this much smaller or larger than their own size get their scales widened
LUCID_ANGLES = tuple(range(-10, 11)) + (0,) * 5


@dataclass(frozen=True)
class RobustnessTransform:
    """Random pad + jitter + scale + rotation, applied independently to every image of a batch."""

    pad: int = 12
    jitter: int = 12  # Lucid's two jitters (8 then 4) add up to 12 px of random crop
    scales: tuple[float, ...] = LUCID_SCALES
    angles: tuple[float, ...] = LUCID_ANGLES
    keep_size: bool = False  # resample the warped crop back to the input size (models that take one size only)
    span_display: bool = True  # widen the scales to the sides the image is shown at (`spanning`)
    roam: bool = False  # zoomed-in crops land anywhere on the image, not only within the jitter (set by `spanning`)

    def for_size(self, size: int) -> "RobustnessTransform":
        """Shrink the pad and jitter for images smaller than 128 px (Lucid's values are meant for ≥128 px)."""
        if size >= 128:
            return self
        factor = size / 128
        return replace(self, pad=round(self.pad * factor), jitter=round(self.jitter * factor))

    def spanning(self, size: int, shown: int) -> "RobustnessTransform":
        """The scales widened, geometrically spaced, to the sides an image of `size` px is shown at: `DISPLAY_SIDE` and
        `shown` (the model's input size). Shown well below its size (a 224 px image at 128), the low end goes down to
        the display's with a 15 % margin (224 px: 0.66–1.1; the activation shown at 128 px goes from 65 % of the
        full-size one to 88 %). Shown well above it (a 128 px image at 224), the scales zoom in from the top scale to
        that times the ratio (1.1–1.93), and a zoomed-in crop roams the whole image so that every part of it is also
        grown at the larger scale (shown at 224 px: from 46–52 % of the 128 px activation to 82–84 %, RESULTS.md).
        `span_display=False` keeps the scales as they are."""
        shrunk = size >= DISPLAY_SIDE * SPAN_MARGIN
        enlarged = shown >= size * SPAN_MARGIN
        if not self.span_display or not (shrunk or enlarged):
            return self
        low = min(min(self.scales), DISPLAY_SIDE / size * 1.15) if shrunk else max(self.scales)
        high = max(self.scales) * (shown / size if enlarged else 1)
        scales = tuple(round(low * (high / low) ** (i / 10), 4) for i in range(11))
        return replace(self, scales=scales, roam=self.roam or enlarged)

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
        crop = out / padded  # fraction of the padded canvas the output covers
        if self.roam:  # anywhere the zoomed crop stays on the canvas (at least the jitter's reach)
            reach = (1 - crop / scale).clamp_min(1 - crop)
            shift = (2 * torch.rand(batch, 2, generator=generator, device=device, dtype=images.dtype) - 1) * reach[:, None]
        else:
            offset = torch.randint(self.jitter + 1, (batch, 2), generator=generator, device=device).to(images.dtype)
            shift = (2 * offset - self.jitter) / padded
        cos, sin = torch.cos(angle) * crop / scale, torch.sin(angle) * crop / scale
        # Output pixels map into the padded canvas; normalise to the *unpadded* image for grid_sample.
        ratio = padded / size
        theta = torch.stack(
            [torch.stack([cos, -sin, shift[:, 1]], 1), torch.stack([sin, cos, shift[:, 0]], 1)], 1
        ) * ratio
        side = self.output_size(size)  # `out`, or the input's size when resampled back to it
        grid = F.affine_grid(theta, [batch, channels, side, side], align_corners=False)
        return F.grid_sample(images - 0.5, grid, mode="bilinear", padding_mode="zeros", align_corners=False) + 0.5
