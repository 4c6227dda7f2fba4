"""Figures of finished images on the model that made them: activation and robustness (the photos' maxima: `data_best`)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from featurelens.capture import ActivationCapture
from featurelens.models import LoadedModel
from featurelens.quick import cap
from featurelens.rendering.transforms import RobustnessTransform
from featurelens.units import PerImageTargets

ROBUSTNESS_SAMPLES = 16


@dataclass
class Measured:
    """Per image [B]: the unit on the final image and its mean over random transforms."""

    activation: torch.Tensor
    robust_activation: torch.Tensor


@torch.no_grad()
def measure(
    model: LoadedModel, objective_of: PerImageTargets, images: torch.Tensor, transforms: RobustnessTransform | None,
    generator: torch.Generator, keep_size: bool = False,
) -> Measured:
    """Activation on the final images and under 16 random transforms (of the images' size with `keep_size`, for a
    model that takes that size only)."""
    size = images.shape[-1]
    with ActivationCapture(model.module, objective_of.layers) as capture:
        activation = objective_of.values(capture.run(model.normalize(images)), gather=False)
        transform = (transforms or RobustnessTransform()).for_size(size)
        transform = transform.keeping_size() if keep_size else transform
        robust = torch.stack([
            objective_of.values(capture.run(model.normalize(transform(images, generator))), gather=False)
            for _ in range(cap("robustness_samples", ROBUSTNESS_SAMPLES))
        ]).mean(0)
    return Measured(activation, robust)
