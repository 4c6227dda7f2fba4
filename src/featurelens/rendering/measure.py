"""Figures of finished images on the model that made them: activation and robustness (the photos' maxima: `data_best`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from featurelens.capture import ActivationCapture
from featurelens.models import LoadedModel
from featurelens.quick import cap
from featurelens.rendering.transforms import DISPLAY_SIDE, RobustnessTransform
from featurelens.units import PerImageTargets

ROBUSTNESS_SAMPLES = 16


@dataclass
class Measured:
    """Per image [B]: the unit on the final image and its mean over random transforms."""

    activation: torch.Tensor
    robust_activation: torch.Tensor
    shown: dict[int, torch.Tensor] = field(default_factory=dict)  # side → the unit on the image resized to it


@torch.no_grad()
def measure(
    model: LoadedModel, objective_of: PerImageTargets, images: torch.Tensor, transforms: RobustnessTransform | None,
    generator: torch.Generator, keep_size: bool = False, lowered: bool = False, network: torch.nn.Module | None = None,
) -> Measured:
    """Activation on the final images and under 16 random transforms (of the images' size with `keep_size`, for a
    model that takes that size only); with `lowered` the transformed forwards run in bfloat16 (autocast), the
    activation and the figures at other sizes stay float32. The transformed forwards may run on `network`, a faster
    copy of the model that computes the same (BatchNorms folded); the activation and the sizes shown run on the model."""
    size = images.shape[-1]
    with ActivationCapture(model.module, objective_of.layers) as capture:
        activation = objective_of.values(capture.run(model.normalize(images)), gather=False)
        shown = {side: objective_of.values(capture.run(model.normalize(resized(images, side))), gather=False)
                 for side in display_sides(model, size, keep_size)}
    transform = (transforms or RobustnessTransform()).for_size(size)
    transform = transform.keeping_size() if keep_size else transform
    with ActivationCapture(network or model.module, objective_of.layers) as capture, \
            torch.autocast(images.device.type, dtype=torch.bfloat16, enabled=lowered):  # 2.4× faster at 224 px
        robust = torch.stack([
            objective_of.values(capture.run(model.normalize(transform(images, generator))), gather=False).float()
            for _ in range(cap("robustness_samples", ROBUSTNESS_SAMPLES))
        ]).mean(0)
    return Measured(activation, robust, shown)


def display_sides(model: LoadedModel, size: int, keep_size: bool) -> list[int]:
    """The other sides an image of `size` px is judged at: the model's input size, and the display side (128 px) when
    the model's is larger; for image models that take more than one size."""
    if keep_size or not model.modality.shown_at_other_sizes:
        return []
    sides = {model.input_size} | ({DISPLAY_SIDE} if model.input_size > DISPLAY_SIDE else set())
    return sorted(side for side in sides if side != size and side >= model.min_size)


def resized(images: torch.Tensor, side: int) -> torch.Tensor:
    """Images shown at `side` px: resampled as a browser or a thumbnail does (bilinear, antialiased when shrinking)."""
    return F.interpolate(images, size=(side, side), mode="bilinear", antialias=side < images.shape[-1], align_corners=False)
