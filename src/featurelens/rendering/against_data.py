"""No render weaker than the data: each finished image against the best item of a data source on its own objective.

An image whose unit value (untransformed, as `activation`) ends below the data's best lost to a real
input: a failed optimisation. Those are rendered again for a quarter of the steps, warm-started from
that best item (on fashion-cnn's conv3 this lifts 9 of the 10 that fail at 128 steps); what still
loses is rendered from the item once more without the random transforms. So the retries cost at most
half the render, and only when every image loses. Each image keeps its best attempt; `beats_data`
says whether it beats the data, `retry` what made it. A diverse set (one unit's images pushed apart)
is only flagged: each image alone from the same item would lose the diversity; so is a cppn image (it
has no inverse to start from an item).

The data: the render's `data` setting, else the model's own (`LoadedModel.data`, fashion-cnn: its test
set) when it can be read, else the bundled photos — whose best is also each image's `natural_max`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import torch

from featurelens.data.sources import ImageSource, PhotoSource, open_source
from featurelens.errors import FeaturelensError
from featurelens.model_cache import ModelCache
from featurelens.models import LoadedModel
from featurelens.rendering.data_best import DataBest, cache_key, cached_best, data_best
from featurelens.rendering.loop import render_chunk
from featurelens.rendering.param import RESOLUTION_FREE
from featurelens.rendering.result import RenderedUnit
from featurelens.rendering.sizes import SizeChoice
from featurelens.units import UnitExpression

if TYPE_CHECKING:
    from featurelens.rendering.settings import RenderSettings

PHOTOS = "photos"
RETRIES = (("warm start from the best item", {}), ("warm start from the best item, no transforms", {"transforms": None}))
RETRY_SHARE = 4  # a retry runs 1/4 of the render's steps


@dataclass
class Reference:
    """The data a render is held against: its source, its name, and why it is not the one asked for (if so)."""

    source: ImageSource
    name: str
    note: str = ""
    photos: ImageSource = field(default_factory=PhotoSource)

    @property
    def is_photos(self) -> bool:
        return self.name == PHOTOS

    @property
    def title(self) -> str:
        return "the bundled photos" if self.is_photos else self.name


def reference_for(model: LoadedModel, data: str | None) -> Reference:
    """The data to beat: `data` (a source spec), else the model's own data when it can be read, else the bundled photos."""
    if data is not None:
        return Reference(open_source(data), str(data))
    if model.data is None:
        return Reference(PhotoSource(), PHOTOS)
    try:
        return Reference(open_source(model.data), model.data)
    except FeaturelensError as err:
        return Reference(PhotoSource(), PHOTOS, f"{model.data} unreadable ({err}): held against the bundled photos")


def references_cost(model: LoadedModel, reference: Reference, targets: list[UnitExpression], sizes: list[SizeChoice],
                    cache: ModelCache) -> str:
    """What the comparison will cost before the first step: each pass the cache lacks, and what it took last time."""
    parts = []
    sources = [(reference.photos, "the bundled photos")] + ([] if reference.is_photos else [(reference.source, reference.title)])
    for source, name in sources:
        for size in sorted({c.size for c in sizes}, reverse=True):
            key = cache_key(model, source, size)
            known, seconds = cached_best(cache, key)
            wanted = [t for t, c in zip(targets, sizes) if c.size == size]
            if key is not None and all(str(t) in known for t in wanted):
                parts.append(f"best of {name} at {size} px: cached, 0 s")
            else:
                took = f", {seconds:.1f} s last time" if seconds is not None else ""
                parts.append(f"best of {name} at {size} px: one pass over {len(source)} items{took}"
                             + (", then cached" if key is not None else ""))
    return "; ".join(parts)


def hold_against_data(
    model: LoadedModel, units: list[RenderedUnit], targets: list[UnitExpression], sizes: list[SizeChoice],
    settings: RenderSettings, reference: Reference, cache: ModelCache | None, retry: bool,
) -> int:
    """Fill each image's `natural_max`, `data_best` and `beats_data`; with `retry`, render the losers again (`RETRIES`)
    and keep each one's best attempt. Returns the number of images rendered again."""
    natural = _best_by_size(model, reference.photos, targets, sizes, cache)
    best = natural if reference.is_photos else _best_by_size(model, reference.source, targets, sizes, cache)
    for row, unit in enumerate(units):
        unit.natural_max = natural[row].value
        _judge(unit, best[row])
    if not retry or settings.interpolate or settings.param in RESOLUTION_FREE or not reference.source.random_access:
        return 0
    retried = 0
    # a diverse set is a run of neighbours with one target (`PerImageTargets` groups): pushed apart on purpose, kept
    diverse = {row for row in range(1, len(targets)) if settings.diversity and targets[row] == targets[row - 1]}
    diverse |= {row - 1 for row in diverse}
    for name, change in RETRIES:
        losers = [row for row, unit in enumerate(units) if not unit.beats_data and row not in diverse]
        if not losers:
            break
        retried += len(losers)
        again = replace(settings, diversity=0.0, steps=max(1, settings.steps // RETRY_SHARE), **change)
        sides = [(sizes[row].size, sizes[row].param_side) for row in losers]
        for side in dict.fromkeys(sides):
            same = [row for row, other in zip(losers, sides) if other == side]
            for rows in (same[i:i + settings.max_batch] for i in range(0, len(same), settings.max_batch)):
                _render_again(model, units, targets, sizes, best, reference.source, again, rows, name)
    return retried


def _render_again(model: LoadedModel, units: list[RenderedUnit], targets: list[UnitExpression], sizes: list[SizeChoice],
                  best: list[DataBest], source: ImageSource, settings: RenderSettings, rows: list[int], name: str) -> None:
    """Render images `rows` (one size) again from their best items; each keeps the better of its two attempts."""
    side = sizes[rows[0]].param_side
    start = torch.stack([source.image(best[row].index, model.in_channels, side) for row in rows])
    chunk = render_chunk(model, [targets[row] for row in rows], [sizes[row] for row in rows], settings, rows[0], init=start)
    for row, unit in zip(rows, chunk.units):
        if unit.activation > units[row].activation:
            unit.natural_max, unit.retry = units[row].natural_max, name
            _judge(unit, best[row])
            units[row] = unit


def _judge(unit: RenderedUnit, best: DataBest) -> None:
    unit.data_best, unit.data_best_item = best.value, best.index
    unit.beats_data = unit.activation >= best.value


def _best_by_size(model: LoadedModel, source: ImageSource, targets: list[UnitExpression], sizes: list[SizeChoice],
                  cache: ModelCache | None) -> list[DataBest]:
    """Each image's best item of `source` on its target, seen at the image's size (one pass per size the cache lacks)."""
    found: list[DataBest | None] = [None] * len(targets)
    for size in dict.fromkeys(c.size for c in sizes):
        rows = [row for row, c in enumerate(sizes) if c.size == size]
        best = data_best(model, source, [targets[row] for row in rows], size, cache)
        for row in rows:
            found[row] = best[targets[row]]
    return found
