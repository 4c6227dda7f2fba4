"""The optimisation loop: one batch of images grown together from seeded noise at one size, image i driving
its own unit expression, then measured.

`RenderPlan` cuts a render into chunks of at most `max_batch` images of one size; the chunk whose first
image is number `offset` starts from noise seeded with `seed + offset`, so it renders the same wherever
it runs (this process or a Ray worker).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import torch

from featurelens.capture import ActivationCapture
from featurelens.capture.inference import fold_batchnorm
from featurelens.capture.memory_format import affine_batchnorm, as_layout, use_channels_last
from featurelens.images import to_pixels
from featurelens.models import LoadedModel
from featurelens.rendering.adam import Adam
from featurelens.rendering.measure import measure
from featurelens.rendering.param import CPPNImage, FourierImage, MacoImage, PixelImage, ResampledImage
from featurelens.rendering.result import RenderedUnit
from featurelens.rendering.sizes import SizeChoice
from featurelens.rendering.spectrum import natural_magnitude
from featurelens.units import PerImageTargets, UnitExpression

if TYPE_CHECKING:
    from featurelens.rendering.settings import RenderSettings

PARAM_LR = {"fft": 0.05, "pixel": 0.05, "maco": 0.25, "cppn": 0.005}  # Adam step per parameterization
# Images grown at zooms that roam (`RobustnessTransform.spanning`: 128 px images of a 224 px model) in the Fourier
# basis: Adam's first beta 0.5 follows the gradient of the current crop, not a long average of others, and the step is
# twice as large (1.5× fewer steps to the same activation, RESULTS.md "Schedule"). Elsewhere beta 0.5 raises the
# activation too, but class renders then transfer less to other models (0.85 → 0.81), so they keep Adam's defaults.
ROAMING_ADAM = {"fft": (2.0, (0.5, 0.999))}  # param → (step factor, betas)
ADAM = (1.0, (0.9, 0.999))  # every other render: the step as given, Adam's own betas


def default_lr(param: str, size: int) -> float:
    """Adam step for a parameterization; the Fourier basis moves slower on small images, so its step grows there."""
    lr = PARAM_LR[param]
    return lr * max(1.0, 128 / size) if param == "fft" else lr


@dataclass
class Optimised:
    """What one batch's optimisation leaves: the parameterization, the last objective per image, steps run."""

    param: torch.nn.Module
    objective: torch.Tensor
    steps: int
    interrupted: bool
    network: torch.nn.Module  # what the steps ran: the model, or its copy with BatchNorms folded into their convolutions


def make_param(
    model: LoadedModel, batch: int, size: int, settings: RenderSettings, generator: torch.Generator, shown: int | None = None,
) -> torch.nn.Module:
    """The settings' parameterization for `batch` images of `size` px (resampled to `shown` px when given), on the model's device."""
    channels = model.in_channels
    shared = settings.interpolate  # interpolation frames start from the same noise so they align
    n = 1 if shared else batch
    if settings.param == "pixel":
        param = PixelImage(n, channels, size, generator, settings.decorrelate)
    elif settings.param == "fft":
        param = FourierImage(n, channels, size, generator, settings.decorrelate)
    elif settings.param == "cppn":
        param = CPPNImage(n, channels, size, generator, settings.decorrelate)
    else:
        param = MacoImage(n, channels, size, generator, natural_magnitude(size, 3), settings.decorrelate)
    if shared:
        for p in param.parameters():
            p.data = p.data.expand(batch, *p.shape[1:]).clone()
    if shown and shown != size:
        param = ResampledImage(param, shown)
    return param.to(model.device)


def optimise(
    model: LoadedModel, objective_of: PerImageTargets, settings: RenderSettings, choice: SizeChoice, seed: int,
    generator: torch.Generator, tick: Callable[[int], None], init: torch.Tensor | None = None,
) -> Optimised:
    """Run `settings.steps` Adam steps on a fresh parameterization (starting from the images `init` [B, C, S, S] at the
    parameterization's side, when given); Ctrl-C stops after the last whole step."""
    # Initial noise is drawn on the CPU (same start on any device); transforms draw from `generator` on the model's device.
    count = len(objective_of.targets)
    size = choice.size
    param = make_param(model, count, choice.param_side, settings, torch.Generator().manual_seed(seed), shown=size)
    if init is not None:
        warm_start(param, init.to(model.device))
    terms = settings.objective_terms()
    layers = list(dict.fromkeys([*objective_of.layers, *(layer for term in terms for layer in term.layers(objective_of))]))
    transform = settings.transforms.for_size(size) if settings.transforms else None
    if transform is not None and model.modality.shown_at_other_sizes:
        transform = transform.spanning(size, model.input_size)  # it must also hold at the sides it is shown at
    if transform and choice.fixed:
        transform = transform.keeping_size()
    # a roaming zoomed crop sees 27–83 % of the image, so each part gets a gradient about every other step
    factor, betas = ROAMING_ADAM.get(settings.param, ADAM) if transform and transform.roam else ADAM
    optimizer = Adam(param.parameters(), lr=settings.lr or default_lr(settings.param, choice.param_side) * factor, betas=betas)
    objective = torch.zeros(count)
    # ~10 % a step on BatchNorm networks (RESULTS.md "Time to quality"); the layers rendered stay whole modules
    with torch.no_grad():
        network = fold_batchnorm(model.module, layers, model.normalize(param()[:1]))
    channels_last = use_channels_last(network)
    done = Optimised(param, objective, 0, False, network)
    with ActivationCapture(network, layers) as capture, affine_batchnorm(network):
        try:
            for _ in range(settings.steps):
                optimizer.zero_grad(set_to_none=True)
                images = param()
                seen = transform(images, generator) if transform else images
                # the network's part only: the image and Adam stay float32
                with torch.autocast(model.device.type, dtype=torch.bfloat16, enabled=settings.lowered):
                    activations = capture.run(as_layout(model.normalize(seen), channels_last))
                    score = objective_of.values(activations)
                    for term in terms:
                        score = score - term(images, activations, objective_of)
                score = score.float()
                (-score.sum()).backward()
                optimizer.step()
                done.objective = score.detach()
                done.steps += 1
                tick(done.steps)
        except KeyboardInterrupt:
            done.interrupted = True
    return done


def warm_start(param: torch.nn.Module, images: torch.Tensor) -> None:
    """Set a parameterization to draw `images` (its exact inverse; cppn has none and keeps its random start)."""
    inner = param.inner if isinstance(param, ResampledImage) else param
    if hasattr(inner, "set_image"):
        inner.set_image(images.clamp(0.02, 0.98))  # off the sigmoid's flat ends, where steps barely move a pixel


@dataclass
class RenderedChunk:
    """One chunk's images with their figures (in the chunk's order), the steps run, and whether Ctrl-C cut it short."""

    units: list[RenderedUnit]
    steps: int
    interrupted: bool


def render_chunk(
    model: LoadedModel, targets: list[UnitExpression], choices: list[SizeChoice], settings: RenderSettings, offset: int,
    progress: Callable[[int], None] | None = None, init: torch.Tensor | None = None,
) -> RenderedChunk:
    """Optimise and measure one chunk of images of one size (`choices[i]` is image i's size and its reason), seeded
    with `settings.seed + offset` (or warm-started from `init`, `optimise`); `progress(images × steps done)` after each
    step. The photos' maxima, the data's best and judges are the caller's job."""
    choice = choices[0]
    seed = settings.seed + offset
    objective_of = PerImageTargets(targets)
    generator = torch.Generator(device=model.device).manual_seed(seed)
    tick = (lambda steps: progress(steps * len(targets))) if progress is not None else (lambda steps: None)
    done = optimise(model, objective_of, settings, choice, seed, generator, tick, init)
    with torch.no_grad():
        final = done.param()
        shown = done.param(settings.out_size) if settings.out_size else final
    figures = measure(model, objective_of, final, settings.transforms, generator, keep_size=choice.fixed, lowered=settings.lowered,
                      network=done.network)
    pixels = to_pixels(shown)
    units = [
        RenderedUnit(str(target), pixels[row], float(done.objective[row]), float(figures.activation[row]),
                     float(figures.robust_activation[row]), float("nan"), choice.size, own.reason, choice.param_side,
                     shown_at={side: float(values[row]) for side, values in figures.shown.items()})
        for row, (target, own) in enumerate(zip(targets, choices))  # units of one chunk share the sizes, not always the reason
    ]
    return RenderedChunk(units, done.steps, done.interrupted)
