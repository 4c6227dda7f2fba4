"""Layer overviews: channel visualizations for layers spread across the network, first to last block.

The "edges, then textures, then patterns, then parts, then objects" picture of Olah et al. 2017.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from torch import nn

from featurelens.capture import LayerInfo, list_layers
from featurelens.capture.layers import LOGIT, unknown_layer_message
from featurelens.errors import FeaturelensError
from featurelens.models import LoadedModel
from featurelens.render import RenderResult, RenderSettings, render

DEFAULT_LAYER_COUNT = 6


@dataclass
class LayerOverview:
    layer: str
    info: LayerInfo
    result: RenderResult


def spatial_layers(model: LoadedModel, size: int) -> list[LayerInfo]:
    example = torch.full((1, model.in_channels, size, size), 0.5, device=model.device)
    return [info for info in list_layers(model.module, model.normalize(example)) if len(info.shape) == 3]


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


def build_overview(
    model: LoadedModel,
    layers: Sequence[str] | None = None,
    units_per_layer: int = 16,
    settings: RenderSettings | None = None,
    progress=None,
) -> list[LayerOverview]:
    """Render the first `units_per_layer` channels of each layer (one batch per layer)."""
    settings = settings or RenderSettings()
    if units_per_layer <= 0:
        raise FeaturelensError(f"--units-per-layer must be positive, got {units_per_layer}")
    infos = spatial_layers(model, settings.size)
    by_name = {info.name: info for info in infos}
    if layers:
        for name in layers:
            if name not in by_name:
                raise FeaturelensError(unknown_layer_message(name, [i.name for i in infos if i.name != LOGIT]))
        chosen = [by_name[name] for name in layers]
    else:
        chosen = default_layers(model, infos)
    overviews = []
    for info in chosen:
        units = [f"{info.name}:{c}" for c in range(min(units_per_layer, info.channels))]
        result = render(model, units, settings, progress=progress)
        overviews.append(LayerOverview(info.name, info, result))
        if result.interrupted:
            break
    return overviews
