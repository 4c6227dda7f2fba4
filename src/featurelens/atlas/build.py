"""`atlas`: build (or extend) a model atlas — a static site with every chosen unit's visualizations, dataset examples
and activation distribution — through the same `AtlasStore` the live server fills."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

import torch

from featurelens.atlas.layers import LayersInput, atlas_layers
from featurelens.atlas.manifest import Manifest
from featurelens.atlas.renders import images_per_unit
from featurelens.atlas.result import AtlasResult
from featurelens.atlas.settings import AUTO_PROJECTION, AtlasSettings, data_spec, unit_count
from featurelens.atlas.store import AtlasStore, check_existing
from featurelens.models import LoadedModel, model_for
from featurelens.atlas.files import site_size
from featurelens.progress import ProgressArg, shown_by_default
from featurelens.quick import shrink
from featurelens.rendering import RenderSettings
from featurelens.rendering.optimize import judge_list


@dataclass
class AtlasPlan:
    """A checked atlas job: the model, the data, the units per layer, the settings and what the folder holds already."""

    model: LoadedModel
    data: str | None
    units: dict[str, list[int]]
    settings: AtlasSettings
    existing: Manifest | None

    @property
    def folder(self) -> Path:
        return Path(self.settings.out)

    def describe(self) -> str:
        s = self.settings
        done = {entry.name: entry for entry in self.existing.layers} if self.existing else {}
        units = sum(len(channels) for channels in self.units.values())
        renders = sum(1 for layer, channels in self.units.items() for c in channels if layer not in done or c not in done[layer].renders)
        text = (f"build an atlas of {self.model.spec} on {self.model.device} in {self.folder}: {len(self.units)} layer(s) "
                f"({', '.join(self.units)}), {units} unit(s); ")
        if self.model.modality.renders:
            text += (f"render {renders} unit(s) ({images_per_unit(s.diverse)} images each: max, min, {s.diverse} diverse; "
                     f"{s.steps} steps, size {s.render_setting()})")
        else:
            text += "no renders (the model takes no log-mel spectrogram to grow)"
        if self.data is None:
            return text + "; no dataset examples"
        passes = sum(1 for layer in self.units if layer not in done or done[layer].pass_info is None)
        examples = sum(1 for layer, channels in self.units.items() for c in channels if layer not in done or c not in done[layer].examples)
        limit = f" (first {s.limit} entries)" if s.limit else ""
        method = self.existing.projection["method"] if self.existing and self.existing.projection else None
        if s.project == AUTO_PROJECTION and method is None:
            projections = ", projections of the top ones by the method that passes the projection sanity check best (measured first)"
        else:
            projections = f", {method or s.project} projections of the top ones" if s.project else ""
        return (text + f"; examples of {examples} unit(s) from {self.data}{limit}: one pass for {passes} layer(s), top and bottom "
                f"{s.k}{projections}")

    def run(self, progress: ProgressArg = None) -> AtlasResult:
        """Examples first (one pass for every layer that needs one), then renders layer by layer; what exists is skipped.
        Ctrl-C keeps every finished chunk (`interrupted` True); running the job again finishes it."""
        started = time.perf_counter()
        store = AtlasStore.open(self.folder, self.model, self.data, settings=self.settings)
        interrupted = False
        try:
            store.add_layers(list(self.units))
            for layer, channels in self.units.items():
                store.add_units(layer, channels)
            if self.data is not None:
                store.ensure_examples(list(self.units), progress)
            for layer, channels in self.units.items():
                store.ensure_renders(layer, channels, progress)
        except KeyboardInterrupt:
            interrupted = True
        size, files = site_size(self.folder)
        return AtlasResult(self.folder, self.model.spec, self.units, store.report, size, files,
                           time.perf_counter() - started, interrupted, store)


def plan_atlas(
    model: LoadedModel | str, data: str | Path | None, layers: LayersInput, settings: AtlasSettings | None = None,
    *, device: torch.device | str | None = None,
) -> AtlasPlan:
    """Check an atlas job without running it or writing anything: settings, model, data, layers, units, and that the
    output folder is new, empty or an atlas of the same model, data and content settings."""
    settings = shrink(settings or AtlasSettings())
    settings.check()
    loaded = model_for(model, device)
    RenderSettings(size=settings.render_setting(), steps=settings.steps).check(loaded, 1)
    existing, settings = check_existing(Path(settings.out), loaded, data, settings)
    spec = data_spec(data, loaded)
    if spec is not None:
        loaded.modality.data_spec(spec)  # an empty or unreadable folder fails now, not after the renders
    # Judges are loaded now, once: an unknown or unloadable one fails before any work, and the store renders with these.
    settings = replace(settings, judge=tuple(model_for(judge, loaded.device) for judge in judge_list(settings.judge)))
    chosen = atlas_layers(loaded, layers, settings.render_size(loaded))
    count = unit_count(settings.units)
    units = {info.name: list(range(info.channels if count is None else min(count, info.channels))) for info in chosen}
    return AtlasPlan(loaded, spec, units, settings, existing)


def atlas(
    model: LoadedModel | str,
    data: str | Path | None = "photos",
    layers: Sequence[str] | str | None = None,
    units: int | str = AtlasSettings.units,
    *,
    steps: int = AtlasSettings.steps,
    size: int | None = None,
    k: int = AtlasSettings.k,
    diverse: int = AtlasSettings.diverse,
    project: str | None = AtlasSettings.project,
    out: str | Path = AtlasSettings.out,
    limit: int | None = None,
    seed: int = AtlasSettings.seed,
    max_batch: int = AtlasSettings.max_batch,
    engine: str = AtlasSettings.engine,
    address: str | None = None,
    workers: int | None = None,
    judge: Sequence[str] | str = (),
    device: torch.device | str | None = None,
    progress: ProgressArg = None,
) -> AtlasResult:
    """Build or extend the atlas in `out`: for the first `units` channels (or "all") of each of `layers` (None: blocks
    spread over the network plus the logits; "all": every spatial layer plus the logits), the images that maximize and
    minimize the unit and `diverse` more, its top-k and bottom-k inputs of `data` (a folder, "photos",
    "fashion-mnist:test", …; None: no examples) with the crop it saw and the `project`ion of the top ones ("auto": by the method that passes the projection
    sanity check best on the model, `projection.sanity`), and its
    activation distribution — a static site that opens from disk. A rerun skips what is built; more layers or units
    extend the atlas; Ctrl-C keeps what finished. `engine` "ray" renders the batches and ranks shards of the data on
    Ray workers (`address`, `workers` as for `render`), building the same site. `judge`: model specs that judge each
    unit's max image (the class's probability and rank for class units, photo distance), shown on its page.
    """
    judges = tuple(str(spec) for spec in judge_list(judge))
    settings = AtlasSettings(units, steps, size, k, diverse, project, out, limit, seed, max_batch, engine, address, workers, judges)
    return plan_atlas(model, data, layers, settings, device=device).run(shown_by_default(progress))
