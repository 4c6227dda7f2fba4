"""Activation maximization: grow images from noise so each drives its unit expression up (or down).

Many units render together: image i of the batch belongs to unit i, and one optimisation runs
for all of them. The forward pass stops at the deepest layer the units need.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from featurelens.capture import ActivationCapture, probe
from featurelens.capture.layout import affine_batchnorm, as_layout, use_channels_last
from featurelens.images import to_pixels
from featurelens.errors import FeaturelensError, bad_parameter, require_positive
from featurelens.models import LoadedModel, model_for
from featurelens.photos import photo_batch
from featurelens.progress import ProgressArg, reporting
from featurelens.rendering.param import PARAMETERIZATIONS, FourierImage, MacoImage, PixelImage
from featurelens.rendering.regularizers import Regularizers, gram_diversity
from featurelens.rendering.result import RenderedUnit, RenderResult
from featurelens.rendering.spectrum import natural_magnitude
from featurelens.rendering.transforms import RobustnessTransform
from featurelens.units import PerImageTargets, UnitExpression, UnitsInput, as_expressions, expression_value, resolve_expression

PARAM_LR = {"fft": 0.05, "pixel": 0.05, "maco": 0.25}  # Adam step per parameterization
ROBUSTNESS_SAMPLES = 16


def default_lr(param: str, size: int) -> float:
    """Adam step for a parameterization; the Fourier basis moves slower on small images, so its step grows there."""
    lr = PARAM_LR[param]
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
        require_positive("steps", self.steps)
        require_positive("batch", self.batch)
        require_positive("max_batch", self.max_batch)
        if self.size < model.min_size:
            raise bad_parameter("size", f"{self.size} is below the minimum input size {model.min_size} of model {model.spec!r}")
        if self.param not in PARAMETERIZATIONS:
            raise FeaturelensError(f"unknown {{parameter}} {self.param!r}: use one of {', '.join(PARAMETERIZATIONS)}", parameter="param")
        if self.lr is not None:
            require_positive("lr", self.lr)
        if self.interpolate and unit_count != 2:
            raise bad_parameter("interpolate", f"needs exactly two units, got {unit_count}")
        if self.interpolate and self.batch < 2:
            raise bad_parameter("interpolate", "needs batch of at least 2 (the number of frames)")


@dataclass
class RenderPlan:
    """A checked render: the model, each image's unit expression, the settings. `run()` does the work."""

    model: LoadedModel
    targets: list[UnitExpression]
    settings: RenderSettings

    def describe(self) -> str:
        s = self.settings
        units = ", ".join(dict.fromkeys(str(t) for t in self.targets))
        return (f"render {len(self.targets)} image(s) of {self.model.spec} on {self.model.device}: {units}; "
                f"{s.size} px, {s.steps} steps, param {s.param}, seed {s.seed}")

    def run(self, progress: ProgressArg = None) -> RenderResult:
        """Optimise every image (in batches of at most `max_batch`). Ctrl-C returns what is done so far."""
        result = RenderResult()
        started = time.perf_counter()
        total = len(self.targets) * self.settings.steps
        with reporting(progress, f"rendering {len(self.targets)} image(s)") as report:
            for start in range(0, len(self.targets), self.settings.max_batch):
                chunk = self.targets[start:start + self.settings.max_batch]
                done_before = start * self.settings.steps
                tick = lambda steps: report.update(done_before + steps * len(chunk), total)
                if _optimise_chunk(self.model, chunk, self.settings, start, tick, result):
                    result.interrupted = True
                    break
        result.seconds = time.perf_counter() - started
        return result


def plan_render(
    model: LoadedModel | str,
    units: UnitsInput,
    settings: RenderSettings | None = None,
    *,
    device: torch.device | str | None = None,
    **overrides,
) -> RenderPlan:
    """Check a render without running it: settings, units against the model at the render size."""
    settings = replace(settings or RenderSettings(), **overrides)
    expressions = as_expressions(units)
    loaded = model_for(model, device)
    settings.check(loaded, len(expressions))
    found = probe(loaded, settings.size)
    resolved = [resolve_expression(e, loaded, found) for e in expressions]
    return RenderPlan(loaded, _image_targets(resolved, settings), settings)


def render(
    model: LoadedModel | str,
    units: UnitsInput,
    *,
    size: int = RenderSettings.size,
    steps: int = RenderSettings.steps,
    param: str = RenderSettings.param,
    lr: float | None = None,
    batch: int = RenderSettings.batch,
    seed: int = RenderSettings.seed,
    diversity: float = RenderSettings.diversity,
    interpolate: bool = False,
    transforms: RobustnessTransform | None = RobustnessTransform(),
    regularizers: Regularizers = Regularizers(),
    decorrelate: bool = True,
    max_batch: int = RenderSettings.max_batch,
    device: torch.device | str | None = None,
    progress: ProgressArg = None,
) -> RenderResult:
    """Render one image per unit (× `batch`), all optimised together.

    `model`: a spec or a `LoadedModel`; `units`: one address (`"_blocks.8:3"`, a range `"_blocks.8:0..7"`,
    `"logit:Egyptian cat"`, `"-A"` to minimize, `"A+B"`) or a list. `param`: "fft" (Lucid's Fourier basis),
    "pixel" or "maco"; `transforms` None turns transformation robustness off. Ctrl-C returns what is done
    so far (`interrupted` True). The same `seed` gives the same images on the same machine.
    """
    settings = RenderSettings(size, steps, param, lr, batch, seed, diversity, interpolate, transforms, regularizers, decorrelate, max_batch)
    return plan_render(model, units, settings, device=device).run(progress)


def _image_targets(expressions: list[UnitExpression], settings: RenderSettings) -> list[UnitExpression]:
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


def _optimise_chunk(model, targets, settings, offset, tick, result) -> bool:
    """Optimise one batch of images; append their results. Returns True if interrupted."""
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
