"""The optimisation loop: one batch of images grown together from seeded noise, then measured.

`RenderPlan` cuts a render into batches of at most `max_batch` images; batch i starts from noise
seeded with `seed + offset`, so a batch renders the same wherever it runs (this process or a Ray worker).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Callable

import torch

from featurelens.capture import ActivationCapture
from featurelens.capture.layout import affine_batchnorm, as_layout, use_channels_last
from featurelens.images import to_pixels
from featurelens.models import LoadedModel
from featurelens.photos import photo_batch
from featurelens.rendering.param import FourierImage, MacoImage, PixelImage
from featurelens.rendering.regularizers import gram_diversity
from featurelens.rendering.result import RenderedUnit, RenderResult
from featurelens.rendering.spectrum import natural_magnitude
from featurelens.rendering.transforms import RobustnessTransform
from featurelens.units import PerImageTargets, UnitExpression, expression_value

if TYPE_CHECKING:
    from featurelens.rendering.optimize import RenderSettings

PARAM_LR = {"fft": 0.05, "pixel": 0.05, "maco": 0.25}  # Adam step per parameterization
ROBUSTNESS_SAMPLES = 16


def default_lr(param: str, size: int) -> float:
    """Adam step for a parameterization; the Fourier basis moves slower on small images, so its step grows there."""
    lr = PARAM_LR[param]
    return lr * max(1.0, 128 / size) if param == "fft" else lr


def render_batch(model: LoadedModel, targets: list[UnitExpression], settings: RenderSettings, offset: int,
                 progress: Callable[[int], None] | None = None) -> RenderResult:
    """One batch of `RenderPlan.batches()` alone (what a Ray worker renders); `progress(images × steps done)`."""
    result = RenderResult()
    started = time.perf_counter()
    tick = (lambda steps: progress(steps * len(targets))) if progress is not None else (lambda steps: None)
    result.interrupted = optimise_batch(model, targets, settings, offset, tick, result)
    result.seconds = time.perf_counter() - started
    return result


def _make_param(model: LoadedModel, batch: int, settings: RenderSettings, generator: torch.Generator) -> torch.nn.Module:
    channels, size = model.in_channels, settings.size
    shared = settings.interpolate  # interpolation frames start from the same noise so they align
    n = 1 if shared else batch
    if settings.param == "pixel":
        param = PixelImage(n, channels, size, generator, settings.decorrelate)
    elif settings.param == "fft":
        param = FourierImage(n, channels, size, generator, settings.decorrelate)
    else:
        param = MacoImage(n, channels, size, generator, natural_magnitude(size, 3), settings.decorrelate)
    if shared:
        for p in param.parameters():
            p.data = p.data.expand(batch, *p.shape[1:]).clone()
    return param.to(model.device)


def optimise_batch(model: LoadedModel, targets: list[UnitExpression], settings: RenderSettings, offset: int,
                   tick: Callable[[int], None], result: RenderResult) -> bool:
    """Optimise one batch of images (`tick(steps done)` after each step); append their results. Returns True if interrupted."""
    device = model.device
    # Initial noise is drawn on the CPU (same start on any device); transforms draw on the model's device.
    param = _make_param(model, len(targets), settings, torch.Generator().manual_seed(settings.seed + offset))
    generator = torch.Generator(device=device).manual_seed(settings.seed + offset)
    optimizer = torch.optim.Adam(param.parameters(), lr=settings.lr or default_lr(settings.param, settings.size))
    objective_of = PerImageTargets(targets)
    diversity_layer = targets[0].layers[0] if settings.diversity else None
    transform = settings.transforms.for_size(settings.size) if settings.transforms else None
    regularize = any((settings.regularizers.l1, settings.regularizers.l2, settings.regularizers.tv, settings.regularizers.blur))
    objective = torch.zeros(len(targets))
    channels_last = use_channels_last(model.module)
    interrupted = False
    steps_done = 0
    with ActivationCapture(model.module, objective_of.layers) as capture, affine_batchnorm(model.module):
        try:
            for _ in range(settings.steps):
                optimizer.zero_grad(set_to_none=True)
                images = param()
                seen = transform(images, generator) if transform else images
                activations = capture.run(as_layout(model.normalize(seen), channels_last))
                score = objective_of.values(activations)
                if regularize:
                    score = score - settings.regularizers.penalty(images)
                if diversity_layer:
                    score = score - settings.diversity * gram_diversity(activations[diversity_layer], [g for g, _ in objective_of.groups])
                (-score.sum()).backward()
                optimizer.step()
                objective = score.detach()
                steps_done += 1
                tick(steps_done)
        except KeyboardInterrupt:
            interrupted = True
    result.steps = max(result.steps, steps_done)
    with torch.no_grad():
        final = param()
    result.units.extend(_measure(model, objective_of, final, objective, settings, generator))
    return interrupted


@torch.no_grad()
def _measure(model, objective_of: PerImageTargets, images, objective, settings, generator) -> list[RenderedUnit]:
    """Activation on the final images, under random transforms, and the natural-photo maximum."""
    with ActivationCapture(model.module, objective_of.layers) as capture:
        activation = objective_of.values(capture.run(model.normalize(images)), gather=False)
        transform = (settings.transforms or RobustnessTransform()).for_size(settings.size)
        robust = torch.stack([
            objective_of.values(capture.run(model.normalize(transform(images, generator))), gather=False)
            for _ in range(ROBUSTNESS_SAMPLES)
        ]).mean(0)
        natural = _natural_max(model, capture, objective_of.targets, settings.size)
    pixels = to_pixels(images)
    return [
        RenderedUnit(str(t), pixels[i], float(objective[i]), float(activation[i]), float(robust[i]), natural[t])
        for i, t in enumerate(objective_of.targets)
    ]


def _natural_max(model, capture, targets, size) -> dict[UnitExpression, float]:
    """Each distinct expression's maximum over the bundled photos at the render size."""
    photos = photo_batch(size, model.in_channels).to(model.device)
    activations = capture.run(model.normalize(photos))
    return {t: float(expression_value(t, activations).max()) for t in dict.fromkeys(targets)}
