"""`featurelens map`: the activation atlas of one layer (Carter et al. 2019, "Activation Atlas").

Plan, describe, run: `plan_map` checks the model, layer, data, class and dictionary; `MapPlan.run` samples the layer's
activations at random positions of many inputs (`points`), lays them out in 2-D with UMAP (`layout`), grids the
layout and averages each filled cell (`cells`), then renders every cell's mean activation as a direction — all cells
in one render plan, so they are optimised together in batches of `max_batch` images, never one by one.
"""

from __future__ import annotations

import hashlib
import math
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from featurelens.activation_map.cells import filled_cells, placed_features
from featurelens.activation_map.layout import lay_out
from featurelens.activation_map.points import sample_points
from featurelens.activation_map.result import MapCell, MapResult
from featurelens.activation_map.settings import MapSettings
from featurelens.dataset_examples.layers import layer_names, layer_shapes
from featurelens.data.sources import ImageSource, open_source
from featurelens.dictionary import Dictionary, load_dictionary
from featurelens.errors import FeaturelensError, bad_parameter
from featurelens.geometry import ReceptiveField, receptive_fields
from featurelens.models import LoadedModel, model_for
from featurelens.progress import ProgressArg, reporting, shown_by_default
from featurelens.quick import shrink
from featurelens.rendering import RenderSettings, plan_render
from featurelens.rendering.sizes import AUTO

LESS_MEAN = " less the mean of all points"


@dataclass
class MapPlan:
    """A checked activation atlas: the model, the layer (`channels` features at `positions` places per input), the data,
    the settings, the class to attribute to and the dictionary to place, if any. `run()` does the work."""

    model: LoadedModel
    layer: str
    source: ImageSource
    settings: MapSettings
    render_settings: RenderSettings
    field: ReceptiveField
    channels: int
    positions: int
    class_name: str | None = None
    class_index: int | None = None
    dictionary: Dictionary | None = None

    @property
    def inputs(self) -> int:
        """The most inputs the pass reads."""
        entries = len(self.source)
        return min(entries, self.settings.limit) if self.settings.limit else entries

    def describe(self) -> str:
        s = self.settings
        per_input = min(s.positions, self.positions)
        cells = s.grid * s.grid
        size = s.size if s.size == AUTO else f"{s.size} px"
        extra = f"; colour cells by their attribution to class {self.class_name!r} (gradient × activation)" if self.class_name else ""
        extra += f"; place the {self.dictionary.features} features of {self.dictionary.address}" if self.dictionary else ""
        return (f"map layer {self.layer} of {self.model.spec} on {self.model.device}: {per_input} random position(s) of "
                f"{self.channels} features from each of up to {self.inputs} inputs of {self.source.name} (at most {s.points} points, "
                f"seed {s.seed}); UMAP (cosine, {s.neighbors} neighbours) into a {s.grid}×{s.grid} grid, cells of at least "
                f"{s.min_count} points; render each cell's mean activation{LESS_MEAN if s.center else ''} as a direction: "
                f"at most {cells} cells in at most {math.ceil(cells / s.max_batch)} batch(es) of {s.max_batch}, {self.render_settings.steps} steps, size {size}{extra}")

    def run(self, progress: ProgressArg = None) -> MapResult:
        """Sample, lay out, grid, render. Ctrl-C while sampling lays out what was read and renders nothing; while rendering,
        it keeps the renders done (`interrupted` True either way)."""
        started = time.perf_counter()
        s = self.settings
        with reporting(progress, f"activations of {self.layer}", rate_unit="points", transient=True) as report:
            points = sample_points(self.model, self.layer, self.source, self.model.input_size, positions=s.positions, points=s.points,
                                   limit=s.limit, batch_size=s.batch_size, seed=s.seed, target=self.class_index, report=report)
        result = MapResult(self.model.spec, self.layer, self.source.name, s, points, self.source, self.field, self.model.input_size,
                           self.model.in_channels, class_name=self.class_name, class_index=self.class_index,
                           dictionary=self.dictionary.address if self.dictionary else None, interrupted=points.interrupted)
        laid = time.perf_counter()
        with reporting(progress, f"UMAP layout of {len(points)} points", transient=True) as report:
            report.update(0, 1)
            layout = lay_out(points.vectors, s.neighbors, s.min_dist, s.seed)
            result.xy = layout.xy
            result.cells = filled_cells(points, layout.xy, s.grid, s.min_count, s.examples, s.center)
            if self.dictionary is not None:
                result.features = placed_features(layout, self.dictionary.decoder_weight.detach().float().cpu().numpy(), s.grid)
            report.update(1, 1)
        result.layout_seconds = time.perf_counter() - laid
        if result.cells and not result.interrupted:
            rendering = time.perf_counter()
            result.render_batches, interrupted = render_cells(self.model, self.layer, result.cells, self.render_settings, progress)
            result.interrupted = result.interrupted or interrupted
            result.render_seconds = time.perf_counter() - rendering
        result.seconds = time.perf_counter() - started
        return result


def render_cells(model: LoadedModel, layer: str, cells: list[MapCell], settings: RenderSettings, progress: ProgressArg) -> tuple[int, bool]:
    """Render every cell's mean activation as a direction unit (`LAYER:dir=FILE.npy`) in one render plan; each cell gets
    its `render`. Returns (the plan's batches, whether it was interrupted). The directions live in a temporary folder
    for the render; files are named by their content, so a path never stands for two different vectors."""
    with tempfile.TemporaryDirectory(prefix="featurelens-map-") as folder:
        units = [f"{layer}:dir={direction_file(Path(folder), cell.direction)}" for cell in cells]
        plan = plan_render(model, units, settings)
        rendered = plan.run(progress)
    for cell, unit in zip(cells, rendered.units):  # an interrupted render keeps its first cells
        unit.unit = f"{layer}:dir=directions/{cell.name}.npy"  # as map's folder holds it
        cell.render = unit
    return len(plan.chunks()), rendered.interrupted


def direction_file(folder: Path, vector: np.ndarray) -> Path:
    """`vector` saved in `folder` under a name taken from its content."""
    data = np.ascontiguousarray(vector, np.float32)
    path = folder / f"{hashlib.sha1(data.tobytes()).hexdigest()[:20]}.npy"
    np.save(path, data)
    return path


def plan_map(
    model: LoadedModel | str,
    layer: str,
    data: Any,
    settings: MapSettings | None = None,
    *,
    class_name: str | None = None,
    dictionary: Dictionary | Path | str | None = None,
    device: torch.device | str | None = None,
) -> MapPlan:
    """Check an activation atlas without running it: settings, model, layer, data source, class and dictionary."""
    settings = shrink(settings or MapSettings())
    settings.check()
    render_settings = RenderSettings(size=settings.size, steps=settings.steps, seed=settings.seed, max_batch=settings.max_batch)
    loaded = model_for(model, device).require_images("the activation atlas")
    render_settings.check(loaded, 1)
    if not isinstance(layer, str) or not layer.strip() or "," in layer:
        raise bad_parameter("layer", f"names one layer to map, e.g. conv3 (see `featurelens layers`), not {layer!r}")
    layer, = layer_names(loaded, [layer])
    shape = layer_shapes(loaded, [layer], loaded.input_size)[layer]
    source = open_source(data)
    if not source.random_access:
        raise FeaturelensError("a map reads its examples' images again after the layout, and this iterable cannot be read twice: "
                               "give a folder, a built-in source, a tensor or a list")
    field = receptive_fields(loaded, [layer], loaded.input_size)[layer]
    index = loaded.class_index(class_name) if class_name is not None else None
    placed = _dictionary_for(dictionary, layer, shape[0])
    return MapPlan(loaded, layer, source, settings, render_settings, field, shape[0], math.prod(shape[1:]),
                   class_name, index, placed)


def _dictionary_for(dictionary: Dictionary | Path | str | None, layer: str, channels: int) -> Dictionary | None:
    """The dictionary whose features are placed on the map of `layer`: it must be learned over that layer."""
    if dictionary is None:
        return None
    found = dictionary if isinstance(dictionary, Dictionary) else load_dictionary(dictionary)
    if layer == found.address:
        return None  # the map is of the features themselves
    if found.layer != layer or found.channels != channels:
        raise FeaturelensError(f"dictionary {found.address!r} is learned over layer {found.layer!r} ({found.channels} channels), "
                               f"not over the mapped layer {layer!r} ({channels} channels): map {found.layer} or give its dictionary")
    return found


def map_activations(
    model: LoadedModel | str,
    layer: str,
    data: Any,
    *,
    limit: int | None = MapSettings.limit,
    positions: int = MapSettings.positions,
    points: int = MapSettings.points,
    grid: int = MapSettings.grid,
    min_count: int = MapSettings.min_count,
    neighbors: int = MapSettings.neighbors,
    min_dist: float = MapSettings.min_dist,
    examples: int = MapSettings.examples,
    steps: int = MapSettings.steps,
    size: int | str = MapSettings.size,
    max_batch: int = MapSettings.max_batch,
    center: bool = MapSettings.center,
    batch_size: int = MapSettings.batch_size,
    seed: int = MapSettings.seed,
    class_name: str | None = None,
    dictionary: Dictionary | Path | str | None = None,
    device: torch.device | str | None = None,
    progress: ProgressArg = None,
) -> MapResult:
    """The activation atlas of `layer` over `data` (a folder, "fashion-mnist:test", "photos", or an iterable of images).

    `positions` random positions of each input's map (up to `points` vectors from the first `limit` inputs) are laid out
    by UMAP (cosine, seeded) in a `grid`×`grid` grid; every cell with at least `min_count` points is rendered as the
    direction of its mean activation (`steps`, `size`; all cells in batches of `max_batch`) and keeps its `examples`
    points nearest its centre. `class_name`: colour cells by their points' attribution to that class's logit
    (gradient × activation); `dictionary`: a dictionary over `layer` (file or `Dictionary`) whose features are placed
    at the UMAP position of their decoder atoms. The same `seed` gives the same map on the same machine.
    """
    settings = MapSettings(limit=limit, positions=positions, points=points, grid=grid, min_count=min_count, neighbors=neighbors,
                           min_dist=min_dist, examples=examples, steps=steps, size=size, max_batch=max_batch,
                           center=center, batch_size=batch_size, seed=seed)
    plan = plan_map(model, layer, data, settings, class_name=class_name, dictionary=dictionary, device=device)
    return plan.run(shown_by_default(progress))
