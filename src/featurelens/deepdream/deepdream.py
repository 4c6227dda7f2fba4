"""DeepDream (Mordvintsev, Olah & Tyka 2015): amplify whatever a layer sees in a photo, octave by octave.

The classic algorithm: gradient ascent on the pixels with normalised steps (divided by each image's
mean absolute gradient) and a random roll each step; an octave pyramid from small to full size,
where each octave starts from the downscaled photo plus the detail dreamed so far, upscaled, so
detail lost by downscaling comes back at every octave. Gradients are computed tile by tile
(`TiledGradient`), so image size only costs time. A batch of photos of one size dreams together.
A model that takes one input size only (a ViT) dreams at every octave too: each octave's image is resampled
to that size for the network and the gradient flows back through the resampling, so the photo keeps its size.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F

from featurelens.capture import mid_layer, probe
from featurelens.deepdream.objective import DreamObjective, guide_features
from featurelens.deepdream.result import DreamResult, OctaveTrace
from featurelens.deepdream.tiles import TiledGradient
from featurelens.errors import FeaturelensError, bad_parameter, require_positive
from featurelens.images import ImageInput, as_images
from featurelens.models import LoadedModel, model_for
from featurelens.models.input_sizes import is_fixed_size
from featurelens.progress import ProgressArg, reporting, shown_by_default
from featurelens.quick import shrink
from featurelens.units import UnitExpression, as_expressions, resolve_expression
from featurelens.units.resolve import check_position
from featurelens.units.values import position_of

PIXEL_STEP = 0.01  # pixels are in [0, 1]: each step moves them by this much on average
GUIDE_SIZE_LIMIT = 2  # the guide is resized to at most this many times the model's input size


@dataclass(frozen=True)
class DreamSettings:
    """Knobs of one dream. `steps` per octave; `lr` is the mean pixel change per step; `tile` bounds the crop one forward pass sees."""

    octaves: int = 4
    octave_scale: float = 1.4
    steps: int = 10
    lr: float = PIXEL_STEP
    jitter: int = 32
    tile: int | None = None  # None: 512, or larger for layers whose receptive field needs it
    seed: int = 0

    def check(self) -> None:
        if self.octaves < 1:
            raise bad_parameter("octaves", f"must be at least 1, got {self.octaves}")
        if self.octave_scale <= 1:
            raise bad_parameter("octave_scale", f"must be above 1 (e.g. 1.4), got {self.octave_scale}")
        if self.steps < 1:
            raise bad_parameter("steps", f"must be at least 1, got {self.steps}")
        require_positive("lr", self.lr)
        require_positive("jitter", self.jitter, allow_zero=True)


def octave_sizes(height: int, width: int, settings: DreamSettings, min_size: int) -> list[tuple[int, int]]:
    """Image sizes of the octaves, smallest first; octaves below the model's minimum input are left out."""
    sizes = []
    for i in reversed(range(settings.octaves)):
        factor = settings.octave_scale ** i
        size = (max(1, round(height / factor)), max(1, round(width / factor)))
        if min(size) >= min_size:
            sizes.append(size)
    return sizes


@dataclass
class DreamPlan:
    """A checked dream: the photos [B, C, H, W], the objective with its tiles, the octave sizes."""

    model: LoadedModel
    base: torch.Tensor
    tiled: TiledGradient
    sizes: list[tuple[int, int]]
    settings: DreamSettings

    def describe(self) -> str:
        height, width = self.base.shape[-2:]
        fixed = self.tiled.fixed
        seen = f"each octave resampled to the model's only size {fixed[0]}×{fixed[1]}" if fixed else f"tile {self.tiled.tile}"
        return (f"dream {len(self.base)} image(s) of {height}×{width} through {self.model.spec} on {self.model.device}: "
                f"{self.tiled.objective}; {len(self.sizes)} octave(s) × {self.settings.steps} steps, {seen}")

    def run(self, progress: ProgressArg = None) -> DreamResult:
        """Dream every octave; Ctrl-C returns the dream so far, at the photos' size."""
        settings, tiled, base = self.settings, self.tiled, self.base
        height, width = base.shape[-2:]
        started = time.perf_counter()
        initial = tiled.value(base)
        result = DreamResult(base.cpu(), str(tiled.objective), initial.tolist(), initial.tolist())
        generator = torch.Generator().manual_seed(settings.seed)
        pyramid = [F.interpolate(base, size=s, mode="bilinear", antialias=True, align_corners=False) for s in self.sizes[:-1]] + [base]
        detail = torch.zeros_like(pyramid[0])
        current = pyramid[0]
        total = settings.steps * len(pyramid)
        with reporting(progress, f"dreaming {len(base)} image(s)") as report:
            try:
                for number, octave_base in enumerate(pyramid):
                    detail = F.interpolate(detail, size=octave_base.shape[-2:], mode="bilinear", align_corners=False)
                    current = (octave_base + detail).clamp(0, 1)
                    trace = OctaveTrace(tuple(octave_base.shape[-2:]), [], current.cpu())
                    result.octaves.append(trace)
                    for step in range(settings.steps):
                        current = _step(tiled, current, settings, generator, trace)
                        report.update(number * settings.steps + step + 1, total)
                    trace.image = current.cpu()
                    detail = current - octave_base
            except KeyboardInterrupt:
                result.interrupted = True
                detail = current - F.interpolate(base, size=current.shape[-2:], mode="bilinear", antialias=True, align_corners=False)
                current = (base + F.interpolate(detail, size=(height, width), mode="bilinear", align_corners=False)).clamp(0, 1)
        result.image = current.detach().cpu()
        result.final_values = tiled.value(current).tolist()
        result.seconds = time.perf_counter() - started
        return result


def plan_dream(
    model: LoadedModel | str,
    images: ImageInput,
    objective: str | UnitExpression | None = None,
    *,
    guide: ImageInput | None = None,
    settings: DreamSettings | None = None,
    device: torch.device | str | None = None,
    **overrides,
) -> DreamPlan:
    """Check a dream: settings, photos, objective (default: the model's DeepDream layer), tiles, guide."""
    settings = shrink(replace(settings or DreamSettings(), **overrides))
    settings.check()
    loaded = model_for(model, device).require_images("dream")
    base = as_images(images, loaded.in_channels, min_size=loaded.min_size).to(loaded.device)
    height, width = base.shape[-2:]
    found = probe(loaded)
    text = objective if objective is not None else mid_layer(loaded)
    expressions = as_expressions(text)
    if len(expressions) != 1:
        raise bad_parameter("objective", f"is one unit expression (use + to combine), got {len(expressions)}")
    expression = resolve_expression(expressions[0], loaded, found, positions=False)
    spatial = {info.name for info in found.layers if len(info.shape) == 3}
    fixed = loaded.input_pair() if is_fixed_size(loaded, expression.layers) else None
    guides = _guides(loaded, expression, guide, fixed) if guide is not None else None
    tiled = TiledGradient(loaded, DreamObjective(expression, spatial, guides), settings.tile, fixed)
    tiled.check(height, width)
    _check_positions(tiled, expression, base)
    return DreamPlan(loaded, base, tiled, octave_sizes(height, width, settings, loaded.min_size), settings)


def dream(
    model: LoadedModel | str,
    images: ImageInput,
    objective: str | UnitExpression | None = None,
    *,
    guide: ImageInput | None = None,
    octaves: int = DreamSettings.octaves,
    octave_scale: float = DreamSettings.octave_scale,
    steps: int = DreamSettings.steps,
    lr: float = DreamSettings.lr,
    jitter: int = DreamSettings.jitter,
    tile: int | None = None,
    seed: int = DreamSettings.seed,
    device: torch.device | str | None = None,
    progress: ProgressArg = None,
) -> DreamResult:
    """Dream on photos so the objective grows, octave by octave (`steps` per octave).

    images: a path, a PIL image, or [C, H, W] / [B, C, H, W] tensors in [0, 1] — any size (tiles of at
    most `tile` pixels bound the memory). objective: a unit expression (default: the model's DeepDream
    layer, e.g. `_blocks.8`). guide: an image whose features each position is pulled towards. `lr` is
    the mean pixel change per step. Ctrl-C returns the dream so far.
    """
    settings = DreamSettings(octaves, octave_scale, steps, lr, jitter, tile, seed)
    return plan_dream(model, images, objective, guide=guide, settings=settings, device=device).run(shown_by_default(progress))


def _check_positions(tiled: TiledGradient, expression: UnitExpression, image: torch.Tensor) -> None:
    """Neuron positions are checked against the photo's own maps (their size follows the photo)."""
    if not tiled.objective.tileable:
        return
    sizes = tiled.map_sizes(image)
    for _, unit in expression.terms:
        if isinstance(unit.position, tuple):
            check_position(unit.layer, position_of(unit, sizes[unit.layer]), sizes[unit.layer])


def _step(tiled: TiledGradient, image: torch.Tensor, settings: DreamSettings, generator: torch.Generator, trace: OctaveTrace) -> torch.Tensor:
    """One normalised gradient-ascent step on a randomly rolled copy of the images."""
    jitter = tiled.roll_limit(settings.jitter, *image.shape[-2:])
    shift_y, shift_x = (int(v) for v in torch.randint(-jitter, jitter + 1, (2,), generator=generator))
    values, gradient = tiled(torch.roll(image, (shift_y, shift_x), (2, 3)), generator)
    trace.values.append(float(values.mean()))
    gradient = torch.roll(gradient, (-shift_y, -shift_x), (2, 3))
    scale = gradient.abs().mean(dim=(1, 2, 3), keepdim=True)
    step = torch.where(scale > 0, settings.lr / scale.clamp_min(1e-30), torch.zeros_like(scale))  # a dead objective: no change
    return (image + step * gradient).clamp(0, 1)


def _guides(model: LoadedModel, expression: UnitExpression, guide: ImageInput, fixed: tuple[int, int] | None = None) -> dict[str, torch.Tensor]:
    """Guide features at each objective layer, from the guide resized to a bounded size (to `fixed`, a fixed-size model's)."""
    picture = as_images(guide, model.in_channels, what="guide image")
    if len(picture) != 1:
        raise bad_parameter("guide", f"is one image, got {len(picture)}")
    limit = GUIDE_SIZE_LIMIT * model.input_size
    longest = max(picture.shape[-2:])
    if fixed is not None:
        picture = F.interpolate(picture, size=fixed, mode="bilinear", antialias=True, align_corners=False)
    elif longest > limit or min(picture.shape[-2:]) < model.min_size:
        factor = max(limit / longest, model.min_size / min(picture.shape[-2:]))
        size = (max(model.min_size, round(picture.shape[-2] * factor)), max(model.min_size, round(picture.shape[-1] * factor)))
        picture = F.interpolate(picture, size=size, mode="bilinear", antialias=True, align_corners=False)
    return guide_features(model, expression.layers, picture)
