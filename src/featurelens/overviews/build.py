"""Layer overviews: channel visualizations for layers spread across the network, first to last block.

The "edges, then textures, then patterns, then parts, then objects" picture of Olah et al. 2017.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import nn

from featurelens.capture import LayerInfo, probe
from featurelens.capture.layers import LOGIT, unknown_layer_message
from featurelens.errors import FeaturelensError, require_positive
from featurelens.models import LoadedModel, model_for
from featurelens.output.images import same_size
from featurelens.overviews.files import write_overview  # the writer reads a layer by a Protocol: one way, build → files
from featurelens.progress import ProgressArg, reporting, shown_by_default
from featurelens.quick import cap, shrink
from featurelens.rendering import AUTO, RenderResult, RenderSettings, plan_render
from featurelens.rendering.optimize import JudgesInput, judge_list
from featurelens.results import TechniqueResult

DEFAULT_LAYER_COUNT = 6


@dataclass
class LayerOverview:
    layer: str
    info: LayerInfo
    result: RenderResult


@dataclass
class OverviewResult(TechniqueResult):
    """One render per layer, first to last."""

    model: str
    settings: RenderSettings
    layers: list[LayerOverview] = field(default_factory=list)
    seconds: float = 0.0
    interrupted: bool = False

    @property
    def images(self) -> np.ndarray:
        """Every rendered channel, layer after layer: uint8 [N, S, S, C] (smaller renders scaled up to the largest)."""
        pictures = [u.image for o in self.layers for u in o.result.units]
        return same_size(pictures) if pictures else np.zeros((0, 0, 0, 3), np.uint8)

    def summary(self) -> dict:
        return {
            "model": self.model,
            "layers": [{"layer": o.layer, **o.result.summary()} for o in self.layers],
            "seconds": self.seconds,
            "interrupted": self.interrupted,
        }

    def save(self, path: str | Path) -> Path:
        """A folder of PNGs and a grid per layer, and index.html; returns the page."""
        return write_overview(self.layers, self.model, self.settings, Path(path))


def spatial_layers(model: LoadedModel, size: int) -> list[LayerInfo]:
    return [info for info in probe(model, size).layers if len(info.shape) == 3]


def default_layers(model: LoadedModel, infos: list[LayerInfo], count: int = DEFAULT_LAYER_COUNT) -> list[LayerInfo]:
    """Blocks of the network (children of a ModuleList/Sequential), else its convolutions, evenly spaced."""
    modules = dict(model.module.named_modules())
    parents = {name: modules.get(name.rpartition(".")[0]) for name in modules if name}
    blocks = [i for i in infos if isinstance(parents.get(i.name), (nn.ModuleList, nn.Sequential))]
    if len(blocks) < 3:
        blocks = [i for i in infos if isinstance(modules.get(i.name), nn.Conv2d)]
    if len(blocks) <= count:
        return blocks
    picks = np.linspace(0, len(blocks) - 1, count).round().astype(int)
    return [blocks[i] for i in dict.fromkeys(picks.tolist())]


@dataclass
class OverviewPlan:
    """A checked overview: the layers and, per layer, the channels to render."""

    model: LoadedModel
    layers: list[LayerInfo]
    units_per_layer: int
    settings: RenderSettings

    def describe(self) -> str:
        return (f"make an overview of {self.model.spec} on {self.model.device}: the first {self.units_per_layer} channels of "
                f"{', '.join(i.name for i in self.layers)}; {self.settings.size}{'' if self.settings.size == AUTO else ' px'} size, "
                f"{self.settings.steps} steps")

    def run(self, progress: ProgressArg = None) -> OverviewResult:
        """Render layer by layer (one batch each); Ctrl-C keeps the layers done."""
        started = time.perf_counter()
        result = OverviewResult(self.model.spec, self.settings)
        counts = [min(self.units_per_layer, info.channels) for info in self.layers]
        total = sum(counts) * self.settings.steps
        with reporting(progress, f"overview of {len(self.layers)} layers") as report:
            done = 0
            for info, count in zip(self.layers, counts):
                units = [f"{info.name}:{c}" for c in range(count)]
                before = done
                rendered = plan_render(self.model, units, self.settings).run(lambda finished, _: report.update(before + finished, total))
                done += count * self.settings.steps
                result.layers.append(LayerOverview(info.name, info, rendered))
                if rendered.interrupted:
                    result.interrupted = True
                    break
        result.seconds = time.perf_counter() - started
        return result


def plan_overview(
    model: LoadedModel | str, layers: Sequence[str] | str | None = None, units_per_layer: int = 16,
    settings: RenderSettings | None = None, *, device: torch.device | str | None = None,
) -> OverviewPlan:
    """Check an overview: the layers (default: blocks spread over the network) and the render settings."""
    settings = shrink(settings or RenderSettings(steps=256))
    units_per_layer = cap("units_per_layer", units_per_layer)
    require_positive("units_per_layer", units_per_layer)
    loaded = model_for(model, device).require_images("overview")
    settings.check(loaded, 1)
    settings = replace(settings, judge=tuple(model_for(judge, loaded.device) for judge in judge_list(settings.judge)))  # load once, not per layer
    infos = spatial_layers(loaded, loaded.input_size if settings.size == AUTO else settings.size)
    by_name = {info.name: info for info in infos}
    names = [n.strip() for n in layers.split(",") if n.strip()] if isinstance(layers, str) else list(layers or [])
    for name in names:
        if name not in by_name:
            raise FeaturelensError(unknown_layer_message(name, [i.name for i in infos if i.name != LOGIT]))
    chosen = [by_name[name] for name in names] if names else default_layers(loaded, infos)
    return OverviewPlan(loaded, chosen, units_per_layer, settings)


def overview(
    model: LoadedModel | str,
    layers: Sequence[str] | str | None = None,
    units_per_layer: int = 16,
    *,
    size: int | str = RenderSettings.size,
    steps: int = 256,
    param: str = RenderSettings.param,
    seed: int = RenderSettings.seed,
    judge: JudgesInput = (),
    device: torch.device | str | None = None,
    progress: ProgressArg = None,
) -> OverviewResult:
    """Render the first `units_per_layer` channels of each layer (default: six blocks from first to last), one batch per layer.
    `size` "auto" renders layers whose receptive field spans the input at the model's input size, the others at 128 px."""
    settings = RenderSettings(size=size, steps=steps, param=param, seed=seed, judge=tuple(judge_list(judge)))
    return plan_overview(model, layers, units_per_layer, settings, device=device).run(shown_by_default(progress))
