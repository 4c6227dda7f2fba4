"""Activation maximization: grow images from noise so each drives its unit expression up (or down).

Many units render together: image i of the batch belongs to unit i, and one optimisation runs
for all of them. The forward pass stops at the deepest layer the units need.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Callable, Sequence

import numpy as np
import torch

from featurelens.capture import ActivationCapture, list_layers
from featurelens.capture.layout import affine_batchnorm, as_layout, use_channels_last
from featurelens.errors import FeaturelensError
from featurelens.models import LoadedModel, load_model
from featurelens.photos import photo_batch
from featurelens.render.param import PARAMETERIZATIONS, FourierImage, MacoImage, PixelImage
from featurelens.render.regularizers import Regularizers, gram_diversity
from featurelens.render.result import RenderedUnit, RenderResult
from featurelens.render.spectrum import natural_magnitude
from featurelens.render.transforms import RobustnessTransform
from featurelens.units import UnitExpression, expression_value, parse_units, resolve_expression
from featurelens.units.objective import layers_needed

DEFAULT_LR = {"fft": 0.05, "pixel": 0.05, "maco": 0.25}
ROBUSTNESS_SAMPLES = 16


def default_lr(param: str, size: int) -> float:
    """Adam step for a parameterization; the Fourier basis moves slower on small images, so its step grows there."""
    lr = DEFAULT_LR[param]
    return lr * max(1.0, 128 / size) if param == "fft" else lr


@dataclass(frozen=True)
class RenderSettings:
    """Knobs of one render. `batch` is images per unit; `max_batch` caps one optimisation's batch."""

    size: int = 128
    steps: int = 512
    param: str = "fft"
    lr: float | None = None
    batch: int = 1
    seed: int = 0
    diversity: float = 0.0
    interpolate: bool = False
    transforms: RobustnessTransform | None = field(default_factory=RobustnessTransform)
    regularizers: Regularizers = field(default_factory=Regularizers)
    decorrelate: bool = True
    max_batch: int = 64

    def check(self, model: LoadedModel, unit_count: int) -> None:
        if self.steps <= 0:
            raise FeaturelensError(f"--steps must be positive, got {self.steps}")
        if self.batch <= 0:
            raise FeaturelensError(f"--batch must be positive, got {self.batch}")
        if self.size < model.min_size:
            raise FeaturelensError(f"--size {self.size} is below the minimum input size {model.min_size} of model {model.spec!r}")
        if self.param not in PARAMETERIZATIONS:
            raise FeaturelensError(f"unknown --param {self.param!r}: use one of {', '.join(PARAMETERIZATIONS)}")
        if self.lr is not None and self.lr <= 0:
            raise FeaturelensError(f"--lr must be positive, got {self.lr}")
        if self.interpolate and unit_count != 2:
            raise FeaturelensError(f"--interpolate needs exactly two units, got {unit_count}")
        if self.interpolate and self.batch < 2:
            raise FeaturelensError("--interpolate needs --batch of at least 2 (the number of frames)")


ProgressFn = Callable[[int], None]


def render(
    model: LoadedModel | str,
    units: Sequence[str | UnitExpression],
    settings: RenderSettings | None = None,
    device: torch.device | str | None = None,
    progress: ProgressFn | None = None,
    **overrides,
) -> RenderResult:
    """Render one image per unit (× `batch`), all optimised together. Ctrl-C returns what is done so far."""
    settings = replace(settings or RenderSettings(), **overrides)
    if isinstance(model, str):
        model = load_model(model)
    if device is not None:
        model.to(device)
    expressions = [parse_units(u) if isinstance(u, str) else u for u in units]
    if not expressions:
        raise FeaturelensError("no units to render: give at least one, e.g. _blocks.8:12")
    settings.check(model, len(expressions))
    expressions = _resolve(model, expressions, settings)
    targets = _batch_targets(expressions, settings)
    result = RenderResult()
    started = time.perf_counter()
    for start in range(0, len(targets), settings.max_batch):
        chunk = targets[start:start + settings.max_batch]
        interrupted = _optimise_chunk(model, chunk, settings, start, progress, result)
        if interrupted:
            result.interrupted = True
            break
    result.seconds = time.perf_counter() - started
    return result


def _resolve(model: LoadedModel, expressions: list[UnitExpression], settings: RenderSettings) -> list[UnitExpression]:
    """Validate units against the layer shapes at the render size (a dry run at batch 1)."""
    example = torch.full((1, model.in_channels, settings.size, settings.size), 0.5, device=model.device)
    try:
        layers = list_layers(model.module, model.normalize(example))
    except RuntimeError as err:
        raise FeaturelensError(f"model {model.spec!r} cannot run at --size {settings.size}: {str(err).splitlines()[0]}") from None
    return [resolve_expression(e, model, layers) for e in expressions]


def _batch_targets(expressions: list[UnitExpression], settings: RenderSettings) -> list[UnitExpression]:
    """The unit expression of every image: `batch` copies per unit, or interpolation frames A→B."""
    if settings.interpolate:
        first, second = expressions
        weights = np.linspace(0.0, 1.0, settings.batch)
        return [first * float(1 - t) + second * float(t) for t in weights]
    return [e for e in expressions for _ in range(settings.batch)]


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


def _groups(targets: list[UnitExpression]) -> list[tuple[slice, UnitExpression]]:
    """Runs of consecutive images sharing a unit expression, so each is evaluated once per run."""
    groups, start = [], 0
    for i in range(1, len(targets) + 1):
        if i == len(targets) or targets[i] != targets[start]:
            groups.append((slice(start, i), targets[start]))
            start = i
    return groups


def _channel_batch(targets: list[UnitExpression]) -> tuple[str, torch.Tensor, torch.Tensor] | None:
    """(layer, channels, weights) when every image's target is one weighted channel of one layer."""
    units = [t.terms[0] for t in targets if len(t.terms) == 1]
    if len(units) != len(targets):
        return None
    layers = {unit.layer for _, unit in units}
    if len(layers) != 1 or any(u.channel is None or u.position is not None or u.direction is not None for _, u in units):
        return None
    return layers.pop(), torch.tensor([u.channel for _, u in units]), torch.tensor([w for w, _ in units])


def _values(groups, activations: dict[str, torch.Tensor], batch: int, channel_batch=None) -> torch.Tensor:
    """Each image's value of its own unit expression: [B]."""
    if channel_batch is not None:  # the common "one channel per image" case in one gather
        layer, channels, weights = channel_batch
        act = activations[layer]
        picked = act[torch.arange(batch, device=act.device), channels.to(act.device)]
        return weights.to(act) * picked.reshape(batch, -1).mean(1)
    values = []
    for span, expression in groups:
        sliced = {layer: act[span] for layer, act in activations.items()}
        values.append(expression_value(expression, sliced))
    return torch.cat(values) if len(values) > 1 else values[0]


def _optimise_chunk(model, targets, settings, offset, progress, result) -> bool:
    """Optimise one batch of images; append their results. Returns True if interrupted."""
    device = model.device
    # Initial noise is drawn on the CPU (same start on any device); transforms draw on the model's device.
    param = _make_param(model, len(targets), settings, torch.Generator().manual_seed(settings.seed + offset))
    generator = torch.Generator(device=device).manual_seed(settings.seed + offset)
    optimizer = torch.optim.Adam(param.parameters(), lr=settings.lr or default_lr(settings.param, settings.size))
    groups = _groups(targets)
    channel_batch = _channel_batch(targets)
    diversity_layer = targets[0].layers[0] if settings.diversity else None
    layers = layers_needed(targets)
    transform = settings.transforms.for_size(settings.size) if settings.transforms else None
    regularize = any((settings.regularizers.l1, settings.regularizers.l2, settings.regularizers.tv, settings.regularizers.blur))
    objective = torch.zeros(len(targets))
    channels_last = use_channels_last(model.module)
    interrupted = False
    steps_done = 0
    with ActivationCapture(model.module, layers) as capture, affine_batchnorm(model.module):
        try:
            for _ in range(settings.steps):
                optimizer.zero_grad(set_to_none=True)
                images = param()
                seen = transform(images, generator) if transform else images
                activations = capture.run(as_layout(model.normalize(seen), channels_last))
                score = _values(groups, activations, len(targets), channel_batch)
                if regularize:
                    score = score - settings.regularizers.penalty(images)
                if diversity_layer:
                    score = score - settings.diversity * gram_diversity(activations[diversity_layer], [g for g, _ in groups])
                (-score.sum()).backward()
                optimizer.step()
                objective = score.detach()
                steps_done += 1
                if progress:
                    progress(len(targets))
        except KeyboardInterrupt:
            interrupted = True
    result.steps = max(result.steps, steps_done)
    with torch.no_grad():
        final = param()
    result.units.extend(_measure(model, targets, groups, final, objective, settings, generator))
    return interrupted


@torch.no_grad()
def _measure(model, targets, groups, images, objective, settings, generator) -> list[RenderedUnit]:
    """Activation on the final images, under random transforms, and the natural-photo maximum."""
    layers = layers_needed(targets)
    with ActivationCapture(model.module, layers) as capture:
        activation = _values(groups, capture.run(model.normalize(images)), len(targets))
        transform = (settings.transforms or RobustnessTransform()).for_size(settings.size)
        robust = torch.stack([
            _values(groups, capture.run(model.normalize(transform(images, generator))), len(targets))
            for _ in range(ROBUSTNESS_SAMPLES)
        ]).mean(0)
        natural = _natural_max(model, capture, targets, settings.size)
    pixels = (images.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    return [
        RenderedUnit(str(t), pixels[i], float(objective[i]), float(activation[i]), float(robust[i]), natural[t])
        for i, t in enumerate(targets)
    ]


def _natural_max(model, capture, targets, size) -> dict[UnitExpression, float]:
    """Each distinct expression's maximum over the bundled photos at the render size."""
    photos = photo_batch(size, model.in_channels).to(model.device)
    activations = capture.run(model.normalize(photos))
    return {t: float(expression_value(t, activations).max()) for t in dict.fromkeys(targets)}
