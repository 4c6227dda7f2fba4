"""Figures of finished images on the model that made them: activation, robustness, the natural-photo maximum."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from featurelens.capture import ActivationCapture
from featurelens.models import LoadedModel
from featurelens.photos import photo_batch
from featurelens.quick import cap
from featurelens.rendering.transforms import RobustnessTransform
from featurelens.units import PerImageTargets, UnitExpression, expression_value

ROBUSTNESS_SAMPLES = 16


@dataclass
class Measured:
    """Per image [B]: the unit on the final image, its mean over random transforms, and the best bundled photo."""

    activation: torch.Tensor
    robust_activation: torch.Tensor
    natural_max: list[float]


@torch.no_grad()
def measure(
    model: LoadedModel, objective_of: PerImageTargets, images: torch.Tensor, transforms: RobustnessTransform | None,
    generator: torch.Generator,
) -> Measured:
    """Activation on the final images, under 16 random transforms, and each unit's maximum over the bundled photos."""
    size = images.shape[-1]
    with ActivationCapture(model.module, objective_of.layers) as capture:
        activation = objective_of.values(capture.run(model.normalize(images)), gather=False)
        transform = (transforms or RobustnessTransform()).for_size(size)
        robust = torch.stack([
            objective_of.values(capture.run(model.normalize(transform(images, generator))), gather=False)
            for _ in range(cap("robustness_samples", ROBUSTNESS_SAMPLES))
        ]).mean(0)
        natural = natural_max(model, capture, objective_of.targets, size)
    return Measured(activation, robust, [natural[t] for t in objective_of.targets])


def natural_max(model: LoadedModel, capture: ActivationCapture, targets: list[UnitExpression], size: int) -> dict[UnitExpression, float]:
    """Each distinct expression's maximum over the bundled photos at `size`."""
    photos = photo_batch(size, model.in_channels).to(model.device)
    activations = capture.run(model.normalize(photos))
    return {t: float(expression_value(t, activations).max()) for t in dict.fromkeys(targets)}
