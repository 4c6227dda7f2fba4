"""DeepDream (Mordvintsev, Olah & Tyka 2015): amplify whatever a layer sees in a photo, octave by octave.

The classic algorithm: gradient ascent on the pixels with normalised steps (divided by the mean
absolute gradient) and a random roll each step; an octave pyramid from small to full size, where
each octave starts from the downscaled photo plus the detail dreamed so far, upscaled, so detail
lost by downscaling comes back at every octave. Gradients are computed tile by tile
(`TiledGradient`), so image size only costs time.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from featurelens.capture import LayerInfo, list_layers
from featurelens.dream.objective import DreamObjective, guide_features
from featurelens.dream.result import DreamResult, OctaveTrace
from featurelens.dream.tiles import TiledGradient
from featurelens.errors import FeaturelensError
from featurelens.images import load_image
from featurelens.models import LoadedModel, load_model
from featurelens.units import UnitExpression, parse_units, resolve_expression
from featurelens.units.address import CENTER

DEFAULT_LR = 0.01  # pixels are in [0, 1]: each step moves them by lr on average
DEFAULT_LAYERS = {"efficientnet-lite0": "_blocks.8", "fashion-cnn": "relu2"}
GUIDE_SIZE_LIMIT = 2  # the guide is resized to at most this many times the model's input size

ImageLike = torch.Tensor | Image.Image | str | Path
ProgressFn = Callable[[int], None]


@dataclass(frozen=True)
class DreamSettings:
    """Knobs of one dream. `lr` is the mean pixel change per step; `tile` bounds the side of the crop one forward pass sees."""

    octaves: int = 4
    octave_scale: float = 1.4
    steps: int = 10
    lr: float = DEFAULT_LR
    jitter: int = 32
    tile: int | None = None  # None: 512, or larger for layers whose receptive field needs it
    seed: int = 0

    def check(self) -> None:
        if self.octaves < 1:
            raise FeaturelensError(f"--octaves must be at least 1, got {self.octaves}")
        if self.octave_scale <= 1:
            raise FeaturelensError(f"--octave-scale must be above 1 (e.g. 1.4), got {self.octave_scale}")
        if self.steps < 1:
            raise FeaturelensError(f"--steps must be at least 1, got {self.steps}")
        if self.lr <= 0:
            raise FeaturelensError(f"--lr must be positive, got {self.lr}")
        if self.jitter < 0:
            raise FeaturelensError(f"--jitter must be 0 or more, got {self.jitter}")


def octave_sizes(height: int, width: int, settings: DreamSettings, min_size: int) -> list[tuple[int, int]]:
    """Image sizes of the octaves, smallest first; octaves below the model's minimum input are left out."""
    sizes = []
    for i in reversed(range(settings.octaves)):
        factor = settings.octave_scale ** i
        size = (max(1, round(height / factor)), max(1, round(width / factor)))
        if min(size) >= min_size:
            sizes.append(size)
    return sizes


def default_objective(model: LoadedModel, layers: list[LayerInfo]) -> str:
    """A mid-network layer: the known choice for built-ins, else the middle block of the spatial layers."""
    names = {info.name for info in layers}
    if DEFAULT_LAYERS.get(model.spec) in names:
        return DEFAULT_LAYERS[model.spec]
    spatial = [info.name for info in layers if len(info.shape) == 3 and min(info.shape[1:]) >= 2]
    if not spatial:
        raise FeaturelensError(f"model {model.spec!r} has no layer with a spatial map: give --objective")
    blocks = [name for name in spatial if re.fullmatch(r"[^.]+\.\d+", name)] or [n for n in spatial if "." not in n] or spatial
    return blocks[round(0.53 * (len(blocks) - 1))]


def as_image(image: ImageLike, channels: int) -> torch.Tensor:
    """A path, PIL image or tensor ([C, H, W] or [1, C, H, W] in [0, 1]) as a float [1, C, H, W] tensor."""
    if isinstance(image, (str, Path)):
        return load_image(image, channels)
    if isinstance(image, Image.Image):
        array = torch.from_numpy(np.asarray(image.convert("RGB" if channels == 3 else "L"), dtype=np.float32) / 255)
        return array.permute(2, 0, 1)[None] if channels == 3 else array[None, None]
    tensor = image.detach().float()
    tensor = tensor[None] if tensor.dim() == 3 else tensor
    if tensor.dim() != 4 or tensor.shape[0] != 1 or tensor.shape[1] != channels:
        raise FeaturelensError(f"expected one image of shape [1, {channels}, H, W], got {list(image.shape)}")
    return tensor


def dream(
    model: LoadedModel | str,
    image: ImageLike,
    objective: str | UnitExpression | None = None,
    guide: ImageLike | None = None,
    settings: DreamSettings | None = None,
    device: torch.device | str | None = None,
    progress: ProgressFn | None = None,
    **overrides,
) -> DreamResult:
    """Dream on `image` so the objective (a unit expression; default a mid layer) grows. Ctrl-C returns the dream so far."""
    settings = replace(settings or DreamSettings(), **overrides)
    settings.check()
    if isinstance(model, str):
        model = load_model(model)
    if device is not None:
        model.to(device)
    base = as_image(image, model.in_channels).to(model.device)
    height, width = base.shape[-2:]
    if min(height, width) < model.min_size:
        raise FeaturelensError(f"image is {height}×{width}, below the minimum input size {model.min_size} of model {model.spec!r}")
    layers = list_layers(model.module, model.normalize(torch.full((1, model.in_channels, model.input_size, model.input_size), 0.5, device=model.device)))
    text = objective if objective is not None else default_objective(model, layers)
    expression = _resolve(parse_units(text) if isinstance(text, str) else text, model, layers)
    spatial = {info.name for info in layers if len(info.shape) == 3}
    guides = _guides(model, expression, guide) if guide is not None else None
    tiled = TiledGradient(model, DreamObjective(expression, spatial, guides), settings.tile)
    tiled.check(height, width)
    _check_positions(tiled, expression, base)
    sizes = octave_sizes(height, width, settings, model.min_size)
    started = time.perf_counter()
    result = DreamResult(base.cpu(), str(tiled.objective), tiled.value(base), 0.0)
    generator = torch.Generator().manual_seed(settings.seed)
    pyramid = [F.interpolate(base, size=s, mode="bilinear", antialias=True, align_corners=False) for s in sizes[:-1]] + [base]
    detail = torch.zeros_like(pyramid[0])
    current = pyramid[0]
    try:
        for octave_base in pyramid:
            detail = F.interpolate(detail, size=octave_base.shape[-2:], mode="bilinear", align_corners=False)
            current = (octave_base + detail).clamp(0, 1)
            trace = OctaveTrace(tuple(octave_base.shape[-2:]), [], current.cpu())
            result.octaves.append(trace)
            for _ in range(settings.steps):
                current = _step(tiled, current, settings, generator, trace)
                if progress:
                    progress(1)
            trace.image = current.cpu()
            detail = current - octave_base
    except KeyboardInterrupt:
        result.interrupted = True
        detail = current - F.interpolate(base, size=current.shape[-2:], mode="bilinear", antialias=True, align_corners=False)
        current = (base + F.interpolate(detail, size=(height, width), mode="bilinear", align_corners=False)).clamp(0, 1)
    result.image = current.detach().cpu()
    result.final_value = tiled.value(current)
    result.seconds = time.perf_counter() - started
    return result


def _resolve(expression: UnitExpression, model: LoadedModel, layers: list[LayerInfo]) -> UnitExpression:
    """Validate units against the model; neuron positions are checked later against the full image's map."""
    centred = resolve_expression(expression.map_units(lambda u: replace(u, position=CENTER) if isinstance(u.position, tuple) else u), model, layers)
    terms = zip(centred.terms, expression.terms)
    return UnitExpression(tuple((w, replace(r, position=o.position) if isinstance(o.position, tuple) else r) for (w, r), (_, o) in terms))


def _check_positions(tiled: TiledGradient, expression: UnitExpression, image: torch.Tensor) -> None:
    if not tiled.objective.tileable:
        return
    sizes = tiled.map_sizes(image)
    for _, unit in expression.terms:
        if isinstance(unit.position, tuple):
            (y, x), (h, w) = unit.position, sizes[unit.layer]
            if not (0 <= y < h and 0 <= x < w):
                raise FeaturelensError(f"position {y},{x} out of range for layer {unit.layer!r} on this image: valid 0..{h - 1},0..{w - 1}")


def _step(tiled: TiledGradient, image: torch.Tensor, settings: DreamSettings, generator: torch.Generator, trace: OctaveTrace) -> torch.Tensor:
    """One normalised gradient-ascent step on a randomly rolled copy of the image."""
    shift_y, shift_x = (int(v) for v in torch.randint(-settings.jitter, settings.jitter + 1, (2,), generator=generator))
    value, gradient = tiled(torch.roll(image, (shift_y, shift_x), (2, 3)), generator)
    trace.values.append(value)
    gradient = torch.roll(gradient, (-shift_y, -shift_x), (2, 3))
    scale = gradient.abs().mean()
    if scale == 0:  # every chosen unit is dead here: nothing to amplify
        return image
    return (image + settings.lr / scale * gradient).clamp(0, 1)


def _guides(model: LoadedModel, expression: UnitExpression, guide: ImageLike) -> dict[str, torch.Tensor]:
    """Guide features at each objective layer, from the guide resized to a bounded size."""
    picture = as_image(guide, model.in_channels)
    limit = GUIDE_SIZE_LIMIT * model.input_size
    longest = max(picture.shape[-2:])
    if longest > limit or min(picture.shape[-2:]) < model.min_size:
        factor = max(limit / longest, model.min_size / min(picture.shape[-2:]))
        size = (max(model.min_size, round(picture.shape[-2] * factor)), max(model.min_size, round(picture.shape[-1] * factor)))
        picture = F.interpolate(picture, size=size, mode="bilinear", antialias=True, align_corners=False)
    return guide_features(model, expression.layers, picture)
