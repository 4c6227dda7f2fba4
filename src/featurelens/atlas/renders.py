"""A unit's visualizations: the image that maximizes it, the one that minimizes it, and a diverse set.

The images of several units go into one optimisation batch (`render_units`): first every unit's max,
then every min (`-LAYER:C`), then each unit's diverse set, `diverse` consecutive images that Lucid's
diversity term pushes apart (a unit's max image is never next to its diverse set, so it feels no
diversity pressure). Layers without a spatial map (logits) have no Gram matrix worth comparing: their
diverse sets differ by their random start only.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from featurelens.atlas.settings import DIVERSITY
from featurelens.capture import capture_activations
from featurelens.models import LoadedModel
from featurelens.progress import ProgressCallback
from featurelens.rendering import RenderedUnit, RenderPlan, RenderResult, RenderSettings, plan_render


@dataclass
class UnitRenders:
    channel: int
    max: RenderedUnit
    min: RenderedUnit
    diverse: list[RenderedUnit]

    def named(self) -> list[tuple[str, RenderedUnit]]:
        """("max" | "min" | "diverse<I>", image) pairs."""
        return [("max", self.max), ("min", self.min)] + [(f"diverse{i}", image) for i, image in enumerate(self.diverse)]


def images_per_unit(diverse: int) -> int:
    return 2 + diverse


def render_plan(model: LoadedModel, layer: str, channels: list[int], spatial: bool, settings: RenderSettings, diverse: int) -> RenderPlan:
    """One optimisation for every image of `channels` of `layer` (checked against the model at the render size)."""
    units = [f"{layer}:{c}" for c in channels]
    single = replace(settings, batch=1, diversity=0.0, interpolate=False)
    extremes = plan_render(model, units + [f"-{unit}" for unit in units], single)
    targets, sizes = extremes.targets, extremes.sizes
    if diverse:
        spread = plan_render(model, units, replace(single, batch=diverse))
        targets, sizes = targets + spread.targets, sizes + spread.sizes
    return RenderPlan(model, targets, replace(single, diversity=DIVERSITY if spatial and diverse > 1 else 0.0), sizes,
                      judges=extremes.judges, engine=extremes.engine, model_spec=extremes.model_spec)


def render_units(
    model: LoadedModel, layer: str, channels: list[int], spatial: bool, settings: RenderSettings, diverse: int,
    tick: ProgressCallback | None = None,
) -> list[UnitRenders]:
    """Render `channels` in one batch. Ctrl-C raises KeyboardInterrupt: half-optimised images are not results."""
    return unit_renders(channels, diverse, render_plan(model, layer, channels, spatial, settings, diverse).run(tick))


def unit_renders(channels: list[int], diverse: int, result: RenderResult) -> list[UnitRenders]:
    """The images of `render_plan(…, channels, …)` unit by unit; KeyboardInterrupt when the render was cut short."""
    if result.interrupted:
        raise KeyboardInterrupt
    count, images = len(channels), result.units
    diverse_of = [images[2 * count + i * diverse: 2 * count + (i + 1) * diverse] for i in range(count)]
    return [UnitRenders(c, images[i], images[count + i], diverse_of[i]) for i, c in enumerate(channels)]


@torch.no_grad()
def render_extremes(model: LoadedModel, layer: str, rendered: list[UnitRenders]) -> dict[int, dict[str, float]]:
    """Per channel, the unit's {"max": peak over space on its max image, "min": trough on its min image} — the figure
    the dataset examples are ranked by (the value itself for layers without a map), so a render compares with the
    data's top and bottom example. Images of one size go through the model together."""
    pictures = [(unit.channel, kind, image.image) for unit in rendered for kind, image in (("max", unit.max), ("min", unit.min))]
    found: dict[int, dict[str, float]] = {unit.channel: {} for unit in rendered}
    by_shape: dict[tuple, list[int]] = {}
    for n, (_, _, picture) in enumerate(pictures):
        by_shape.setdefault(picture.shape, []).append(n)
    for members in by_shape.values():
        batch = torch.from_numpy(np.stack([pictures[n][2] for n in members])).permute(0, 3, 1, 2).float() / 255
        activation = capture_activations(model.module, model.normalize(batch.to(model.device)), [layer])[layer].float()
        for row, n in enumerate(members):
            channel, kind, _ = pictures[n]
            values = activation[row, channel]
            found[channel][kind] = float(values.max() if kind == "max" else values.min())
    return found
