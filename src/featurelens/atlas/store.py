"""`AtlasStore`: an atlas folder that knows what it holds and builds what is missing.

The `atlas` job and the live server share it: `ensure_renders` and `ensure_examples` compute only
what the manifest does not list yet, write the pictures, the unit records, the manifest and the
pages those touch, chunk by chunk, so a Ctrl-C (KeyboardInterrupt, re-raised after saving) keeps
every finished chunk and a second call does the rest. One job at a time; readers on other threads
only ever see whole files (every write is a rename).
"""

from __future__ import annotations

import time
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable, Iterator, Protocol, Sequence

import numpy as np

from featurelens.atlas.audio import SoundParts
from featurelens.atlas.layers import layer_info
from featurelens.atlas.manifest import LayerEntry, Manifest
from featurelens.atlas.pass_data import LayerPass
from featurelens.atlas.renders import UnitRenders, images_per_unit, render_extremes, render_plan, render_units, unit_renders
from featurelens.atlas.sanity import projection_choice, record_part
from featurelens.atlas.settings import AUTO_PROJECTION, DISTRIBUTION_SAMPLE, REDUCE, SPATIAL_SCORE, AtlasSettings, data_spec
from featurelens.capture import LOGIT, probe
from featurelens.data.sources import open_source
from featurelens.dataset_examples import ExamplesResult
from featurelens.dataset_examples.checkpoint import save_checkpoint, state_to_resume
from featurelens.dataset_examples.projections import example_projections
from featurelens.dataset_examples.run import plan_pass, run_pass
from featurelens.engine import check_engine
from featurelens.errors import FeaturelensError
from featurelens.geometry import ReceptiveField, receptive_fields
from featurelens.models import LoadedModel, model_for
from featurelens.atlas.files import (
    INDEX, MANIFEST, crop_path, input_path, pass_path, picture_format, projection_path, read_json, record_path,
    render_path, save_picture, unit_page_path, write_json,
)
from featurelens.atlas.pages import AtlasPages
from featurelens.output.paths import check_output_folder
from featurelens.progress import ProgressArg, reporting
from featurelens.rendering import RenderSettings
from featurelens.rendering.optimize import judge_list
from featurelens.units.resolve import channel_out_of_range

CHECKPOINT = "examples-checkpoint.pt"  # the running state of an unfinished examples pass
EXAMPLE_CHUNK = 32  # units whose examples are written (and saved in the manifest) together
PASS_BATCH = 64
PROJECTION_BATCH = 16
RECORD_FORMAT = 1


@dataclass
class BuildReport:
    """What a store built and skipped since it was opened, and where the time went (seconds per phase)."""

    renders_built: int = 0
    renders_skipped: int = 0
    examples_built: int = 0
    examples_skipped: int = 0
    passes: int = 0  # layers that went through an examples pass
    seconds: dict[str, float] = field(default_factory=lambda: {"render": 0.0, "examples": 0.0, "projections": 0.0, "writing": 0.0})

    @contextmanager
    def timing(self, phase: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[phase] += time.perf_counter() - started


class AtlasStore:
    """An atlas folder of one model (see `featurelens.atlas.files` for the layout). Open with `AtlasStore.open`."""

    def __init__(self, folder: Path, model: LoadedModel, manifest: Manifest, settings: AtlasSettings):
        self.folder = folder
        self.model = model
        self.manifest = manifest
        self.settings = settings
        self.pages = AtlasPages(folder, self.label)
        self.report = BuildReport()
        self._source = None
        self._judges: tuple[LoadedModel, ...] | None = None
        self.parts: ModalityParts = PARTS[model.modality.name]

    # --- opening -------------------------------------------------------------------------------------

    @classmethod
    def open(cls, folder: str | Path, model: LoadedModel | str, data: str | Path | None, *,
             settings: AtlasSettings | None = None) -> "AtlasStore":
        """The atlas in `folder`, or a new empty one (atlas.json and index.html) if the folder is new or empty.

        An existing atlas must be of the same model (spec) and data source (`data` None: its own), and when
        `settings` are given, have the same content settings; each mismatch is a one-line FeaturelensError.
        Settings left out are the atlas's own (the defaults for a new one).
        """
        folder = Path(folder)
        loaded = model_for(model)
        manifest, settings = check_existing(folder, loaded, data, settings)
        if manifest is None:
            manifest = new_manifest(loaded, data_spec(data, loaded), settings)
            folder.mkdir(parents=True, exist_ok=True)
            manifest.save(folder)
        elif manifest.data is None and data is not None:
            manifest.data = data_spec(data, loaded)
            manifest.save(folder)
        store = cls(folder, loaded, manifest, settings)
        store.pages.write_index(manifest)
        return store

    # --- reading -------------------------------------------------------------------------------------

    def unit(self, layer: str, channel: int) -> dict | None:
        """The unit's record (LAYER/C.json), or None when the unit is not in the atlas."""
        return read_json(self.folder / record_path(layer, channel))

    def label(self, layer: str, channel: int) -> str | None:
        """The class name of a logit unit (None for other units, or a model without class names)."""
        return self.model.class_label(channel) if layer == LOGIT and self.model.class_names else None

    @property
    def index(self) -> Path:
        return self.folder / INDEX

    # --- layers and units ------------------------------------------------------------------------------

    def add_layers(self, names: Sequence[str]) -> list[LayerEntry]:
        """The manifest entries of `names`, adding the new ones (receptive fields measured together)."""
        new = [name for name in dict.fromkeys(names) if self.manifest.layer(name) is None]
        if new:
            size = self.settings.render_size(self.model)
            infos = [layer_info(self.model, name, size) for name in new]
            fields = self.parts.fields(self.model, new)
            with self.report.timing("writing"):
                for info in infos:
                    self.manifest.add_layer(LayerEntry.of(info, fields[info.name]))
                self.manifest.save(self.folder)
                for name in new:
                    self.pages.write_layer(self.manifest, self.manifest.layer(name))
                self.pages.write_index(self.manifest)
        return [self.manifest.layer(name) for name in names]

    def add_units(self, layer: str, channels: Iterable[int]) -> LayerEntry:
        """Put `channels` of `layer` in the atlas: a record and a page each (nothing built yet); neighbours' links follow."""
        entry = self.add_layers([layer])[0]
        channels = self._checked(entry, channels)
        new = sorted(set(channels) - set(entry.units))
        if not new:
            return entry
        with self.report.timing("writing"):
            for channel in new:
                write_json(self.folder / record_path(layer, channel), self._empty_record(entry, channel))
            entry.units = sorted(set(entry.units) | set(new))
            self.manifest.save(self.folder)
            position = {c: i for i, c in enumerate(entry.units)}
            neighbours = {entry.units[j] for c in new for j in (position[c] - 1, position[c] + 1) if 0 <= j < len(entry.units)}
            self.write_unit_pages(entry, set(new) | neighbours)
        return entry

    def _checked(self, entry: LayerEntry, channels: Iterable[int]) -> list[int]:
        found = []
        for channel in [channels] if isinstance(channels, (int, np.integer)) else channels:
            if isinstance(channel, bool) or not isinstance(channel, (int, np.integer)):
                raise FeaturelensError(f"channels of layer {entry.name!r} are whole numbers, got {channel!r}")
            if not 0 <= channel < entry.channels:
                raise channel_out_of_range(entry.name, int(channel), entry.channels)
            found.append(int(channel))
        return list(dict.fromkeys(found))

    def _empty_record(self, entry: LayerEntry, channel: int) -> dict:
        return {
            "format": RECORD_FORMAT, "layer": entry.name, "channel": channel, "label": self.label(entry.name, channel),
            "page": unit_page_path(entry.name, channel), "record": record_path(entry.name, channel),
            "renders": {"max": None, "min": None, "diverse": []}, "render_figures": None, "examples": None, "distribution": None,
        }

    def update_records(self, entry: LayerEntry, parts: dict[int, dict]) -> None:
        """Merge `parts[channel]` into each unit's record."""
        for channel, part in parts.items():
            path = self.folder / record_path(entry.name, channel)
            write_json(path, {**(read_json(path) or self._empty_record(entry, channel)), **part})

    def write_unit_pages(self, entry: LayerEntry, channels: set[int]) -> None:
        self.pages.write_units(self.manifest, entry, channels)
        self.pages.write_layer(self.manifest, entry)
        self.pages.write_index(self.manifest)

    def write_pages(self) -> Path:
        """Rewrite every page from the manifest and the records (unchanged pages stay); returns index.html."""
        self.pages.write_all(self.manifest)
        return self.index

    # --- visualizations --------------------------------------------------------------------------------

    def ensure_renders(self, layer: str, channels: Iterable[int], progress: ProgressArg = None) -> None:
        """Render the max, min and diverse images of `channels` of `layer` that are not built yet, many units per
        optimisation batch (`max_batch` images); records, manifest and pages follow each batch."""
        wanted = self._checked(self.add_layers([layer])[0], channels)
        entry = self.add_units(layer, wanted)
        todo = [c for c in wanted if c not in set(entry.renders)] if self.model.modality.renders else []
        self.report.renders_skipped += len(wanted) - len(todo)
        if not todo:
            return
        s = self.settings
        per_unit = images_per_unit(s.diverse)
        chunk = max(1, s.max_batch // per_unit)
        chunks = [todo[start:start + chunk] for start in range(0, len(todo), chunk)]  # units optimised together
        self.parts.render(self, entry, chunks, progress)

    def _render_images(self, entry: LayerEntry, chunks: list[list[int]], progress: ProgressArg) -> None:
        """An image model's renders: each chunk of units in one batch (max, min and diverse images), or all chunks on Ray."""
        s = self.settings
        per_unit = images_per_unit(s.diverse)
        render_settings = RenderSettings(size=s.render_setting(), steps=s.steps, seed=s.seed, max_batch=s.max_batch,
                                         engine=s.engine, address=s.address, workers=s.workers, judge=self.judges(),
                                         data=self.manifest.data)  # each image held against the atlas's data
        if s.engine == "ray":
            self._renders_on_ray(entry, chunks, render_settings, progress)
            return
        units = sum(len(channels) for channels in chunks)
        total = units * per_unit * s.steps
        with reporting(progress, f"rendering {units} unit(s) of {entry.name}") as report:
            before = 0
            for channels in chunks:
                with self.report.timing("render"):
                    rendered = render_units(self.model, entry.name, channels, entry.spatial, render_settings, s.diverse,
                                            tick=lambda done, _, before=before: report.update(before + done, total))
                self._write_renders(entry, rendered)
                before += len(channels) * per_unit * s.steps

    def judges(self) -> tuple[LoadedModel, ...]:
        """The judge models of the settings (`plan_atlas` hands them loaded), loaded once when given as specs."""
        if self._judges is None:
            self._judges = tuple(model_for(spec, self.model.device) for spec in judge_list(self.settings.judge))
        return self._judges

    def _renders_on_ray(self, entry: LayerEntry, chunks: list[list[int]], settings: RenderSettings, progress: ProgressArg) -> None:
        """The local engine's batches of units, rendered at once by Ray workers (the same images); what finished is kept."""
        from featurelens.rendering.on_ray import render_plans_on_ray  # Ray only when asked for

        s = self.settings
        plans = [render_plan(self.model, entry.name, channels, entry.spatial, settings, s.diverse) for channels in chunks]
        with self.report.timing("render"):
            results = render_plans_on_ray(plans, plans[0].engine, progress)
        for channels, result in zip(chunks, results):
            if not result.interrupted:
                self._write_renders(entry, unit_renders(channels, s.diverse, result))
        if any(result.interrupted for result in results):
            raise KeyboardInterrupt

    def _write_renders(self, entry: LayerEntry, rendered: list[UnitRenders]) -> None:
        ext = self.manifest.settings["image_format"]
        parts = {}
        with self.report.timing("render"):
            extremes = render_extremes(self.model, entry.name, rendered)
        with self.report.timing("writing"):
            for unit in rendered:
                urls = {}
                for name, image in unit.named():
                    urls[name] = render_path(entry.name, unit.channel, name, ext)
                    save_picture(image.image, self.folder / urls[name])
                # the min image minimises -unit: its figures, negated, are the unit's own (and the photos' lowest);
                # "extreme" is its peak (trough) as the examples are ranked, to compare with the data's top (bottom) one
                # "data_best" is the data's highest (lowest) mean, "beats_data" whether the image goes past it
                figures = {kind: {"activation": sign * image.activation, "robust_activation": sign * image.robust_activation,
                                  "photos": sign * image.natural_max, "extreme": extremes[unit.channel][kind],
                                  "data_best": None if image.data_best is None else sign * image.data_best,
                                  "beats_data": image.beats_data, "retry": image.retry}
                           for kind, image, sign in (("max", unit.max, 1.0), ("min", unit.min, -1.0))}
                figures["max"]["judged"] = {spec: judged.summary() for spec, judged in unit.max.judged.items()}
                parts[unit.channel] = {"renders": {"max": urls["max"], "min": urls["min"], "diverse": [urls[f"diverse{i}"] for i in range(len(unit.diverse))]},
                                       "render_figures": figures}
        self.store_renders(entry, parts)

    def store_renders(self, entry: LayerEntry, parts: dict[int, dict]) -> None:
        """Records, manifest and pages after renders of the channels in `parts` (their record parts) were written."""
        with self.report.timing("writing"):
            self.update_records(entry, parts)
            entry.renders = sorted(set(entry.renders) | set(parts))
            self.manifest.save(self.folder)
            self.write_unit_pages(entry, set(parts))
        self.report.renders_built += len(parts)

    # --- dataset examples ------------------------------------------------------------------------------

    def ensure_examples(self, layers: Sequence[str] | str, progress: ProgressArg = None, *, channels: Iterable[int] | None = None) -> None:
        """Dataset examples of the units of `layers` that have none yet: one pass over the data for every layer that
        has not had one (with each channel's score distribution), then, per chunk of units, the projections of their
        top examples (batched), the crops and the records. `channels` first adds those units to each layer."""
        if self.manifest.data is None:
            raise FeaturelensError("this atlas has no data source: open it with data= a folder of images or a built-in source", parameter="data")
        names = [layers] if isinstance(layers, str) else list(layers)
        entries = self.add_layers(names)
        if channels is not None:
            channels = [channels] if isinstance(channels, (int, np.integer)) else list(channels)
            entries = [self.add_units(entry.name, channels) for entry in entries]
        self.parts.examples(self, entries, progress)

    def _image_examples(self, entries: list[LayerEntry], progress: ProgressArg) -> None:
        """An image model's examples: one pass for the layers without one, then per chunk of units the projections of
        their top examples, the crops and the records."""
        missing = [e for e in entries if e.pass_info is None or not (self.folder / pass_path(e.name)).is_file()]
        passes = self._run_pass(missing, progress) if missing else {}
        method = self.projection_method() if any(set(e.units) - set(e.examples) for e in entries) else None
        for entry in entries:
            todo = [c for c in entry.units if c not in set(entry.examples)]
            self.report.examples_skipped += len(entry.units) - len(todo)
            if not todo:
                continue
            found = passes.get(entry.name) or LayerPass.load(self.folder / pass_path(entry.name))
            result = found.examples_of(entry.name, entry.shape, entry.field, self.source(), self.model.spec, self.settings.k,
                                       REDUCE, self.model.input_size, self.model.in_channels)
            for start in range(0, len(todo), EXAMPLE_CHUNK):
                chunk = todo[start:start + EXAMPLE_CHUNK]
                projections = {}
                if method:
                    with self.report.timing("projections"):
                        projections = example_projections(self.model, result, method, batch_size=PROJECTION_BATCH,
                                                          progress=progress, channels={entry.name: chunk})
                self._write_examples(entry, result, found, chunk, projections)

    def projection_method(self) -> str | None:
        """The method the examples' projections use (None: no projections): the settings' method, or with "auto" the
        one that passes the sanity check best on the model. Every method's score is measured once and kept in the
        manifest (`projection`), so the whole atlas shows one method."""
        if not self.settings.project:
            return None
        if self.manifest.projection is None or self.manifest.projection.get("requested") != self.settings.project:
            with self.report.timing("projections"):
                self.manifest.projection = projection_choice(self.model, self.source(), self.manifest.data, self.settings.project,
                                                             self.settings.render_size(self.model), self.settings.limit)
            with self.report.timing("writing"):
                self.manifest.save(self.folder)
                self.pages.write_index(self.manifest)
        return self.manifest.projection["method"]

    def source(self):
        """The data source, opened once (examples' inputs are read again for crops and projections)."""
        if self._source is None:
            self._source = open_source(self.manifest.data)
        return self._source

    def _run_pass(self, entries: list[LayerEntry], progress: ProgressArg) -> dict[str, LayerPass]:
        """One pass for all `entries`, continued from the checkpoint an interrupted pass left; saves each layer's results."""
        plan = plan_pass(self.model, self.source(), [e.name for e in entries], self.settings.k, REDUCE, PASS_BATCH,
                         limit=self.settings.limit, distribution=DISTRIBUTION_SAMPLE)
        checkpoint = self.folder / CHECKPOINT
        resume, _ = state_to_resume(checkpoint, None, plan.fingerprint)
        s, stream = self.settings, None
        if s.engine == "ray":  # shards ranked by Ray workers, merged exactly
            from featurelens.dataset_examples.on_ray import examples_stream

            stream = examples_stream(check_engine(s.engine, s.address, s.workers))
        with self.report.timing("examples"):
            result = run_pass(plan, resume, 1 if stream else 20, lambda state: save_checkpoint(state, checkpoint), progress, stream)
        if result.interrupted:
            save_checkpoint(result.state, checkpoint)
            raise KeyboardInterrupt
        passes = {}
        with self.report.timing("writing"):
            for layer in result.layers:
                passes[layer.layer] = LayerPass.of(layer)
                passes[layer.layer].save(self.folder / pass_path(layer.layer))
                self.manifest.layer(layer.layer).pass_info = {"images": result.items_seen, "entries": result.entries,
                                                              "skipped": len(result.skipped), "seconds": round(result.seconds, 3)}
            self.manifest.save(self.folder)
            checkpoint.unlink(missing_ok=True)
        self.report.passes += len(entries)
        return passes

    def _write_examples(self, entry: LayerEntry, result: ExamplesResult, found: LayerPass, channels: list[int], projections: dict) -> None:
        ext, size = self.manifest.settings["image_format"], self.model.input_size
        rows = defaultdict(list)
        for row in result.examples({entry.name: channels}):
            rows[row.index].append(row)
        examples = {c: {"max": [], "min": []} for c in channels}
        with self.report.timing("writing"):
            for index, members in rows.items():
                image = result.image(index)
                whole = input_path(index, ext)
                if not (self.folder / whole).is_file():
                    save_picture(image, self.folder / whole)
                for row in members:
                    x0, y0, x1, y1 = row.box
                    crop = whole if row.box == (0, 0, size, size) else crop_path(entry.name, row.channel, row.kind, row.rank, ext)
                    if crop != whole:
                        save_picture(image[y0:y1, x0:x1], self.folder / crop)
                    picture = projections.get((row.layer, row.channel, row.kind, row.rank))
                    projection = projection_path(entry.name, row.channel, row.rank, ext) if picture is not None else None
                    if picture is not None:
                        save_picture(picture, self.folder / projection)
                    examples[row.channel][row.kind].append({
                        "rank": row.rank, "score": row.score, "item": row.item, "index": row.index, "y": row.y, "x": row.x,
                        "box": list(row.box), "input": whole, "crop": crop, "projection": projection,
                    })
            for found_examples in examples.values():
                for kind in found_examples.values():
                    kind.sort(key=lambda example: example["rank"])
            score = SPATIAL_SCORE if entry.spatial else "value"
            shown = {"projection": record_part(self.manifest.projection)} if self.settings.project and self.manifest.projection else {}
            self.update_records(entry, {c: {"examples": examples[c], "distribution": found.distribution(c, score), **shown} for c in channels})
            entry.examples = sorted(set(entry.examples) | set(channels))
            self.manifest.save(self.folder)
            self.write_unit_pages(entry, set(channels))
        self.report.examples_built += len(channels)


def check_existing(folder: Path, model: LoadedModel, data: str | Path | None, settings: AtlasSettings | None) -> tuple[Manifest | None, AtlasSettings]:
    """The manifest already in `folder` (None for a new atlas) and the settings to build with; one-line errors when
    the folder holds another model's atlas, another data source, other content settings, or other files."""
    manifest = Manifest.load(check_output_folder(folder))
    settings = settings.for_model(model) if settings is not None else None
    if manifest is None:
        if folder.is_dir() and any(folder.iterdir()):
            raise FeaturelensError(f"{str(folder)!r} holds files but no {MANIFEST}: give a new or empty folder as {{parameter}}", parameter="out")
        settings = settings or AtlasSettings()
        settings.check()
        return None, settings
    if manifest.model["spec"] != model.spec:
        raise FeaturelensError(f"{str(folder)!r} holds an atlas of model {manifest.model['spec']!r}, not {model.spec!r}: "
                               f"use that model or another folder")
    given = data_spec(data, model)
    if given is not None and manifest.data is not None and given != manifest.data:
        raise FeaturelensError(f"the atlas in {str(folder)!r} shows examples from {manifest.data!r}, not {given!r}: "
                               f"pass the same {{parameter}} or another folder", parameter="data")
    stored = AtlasSettings.from_content(manifest.settings)
    if settings is None:
        return manifest, stored
    settings.check()
    if settings.project == AUTO_PROJECTION and stored.project not in (None, AUTO_PROJECTION):
        settings = replace(settings, project=stored.project)  # "auto" (the default) keeps the method an atlas was made with
    wanted = settings.content(model)
    for name, value in stored.content(model).items():
        if wanted[name] != value:
            raise FeaturelensError(f"the atlas in {str(folder)!r} was made with {{parameter}} {value!r}, not {wanted[name]!r}: "
                                   f"keep that value or use another folder", parameter=name)
    return manifest, settings


def new_manifest(model: LoadedModel, data: str | None, settings: AtlasSettings) -> Manifest:
    found = probe(model, model.input_size)
    summary = {"spec": model.spec, "input_size": model.input_size, "in_channels": model.in_channels,
               "classes": len(model.class_names) if model.class_names else None}
    summary.update(PARTS[model.modality.name].summary(model))
    content = {**settings.content(model), "image_format": picture_format(model.in_channels, model.input_size),
               "reduce": REDUCE, "score": SPATIAL_SCORE}
    layers = [{"name": info.name, "type": info.type, "shape": list(info.shape)} for info in found.layers]
    return Manifest(summary, data, content, [], layers)


class ModalityParts(Protocol):
    """What an atlas does its own way for a kind of input (`PARTS`, by `LoadedModel.modality.name`): how a layer's
    fields are measured, how chunks of units are rendered and written, how examples are found, and what the manifest
    says of the model besides its spec and size."""

    def fields(self, model: LoadedModel, layers: list[str]) -> dict[str, ReceptiveField]: ...

    def render(self, store: AtlasStore, entry: LayerEntry, chunks: list[list[int]], progress: ProgressArg) -> None: ...

    def examples(self, store: AtlasStore, entries: list[LayerEntry], progress: ProgressArg) -> None: ...

    def summary(self, model: LoadedModel) -> dict: ...


class ImageParts:
    """An image model's atlas: receptive fields in pixels, max, min and diverse images (here or on Ray), examples from
    one pass over the data with their crops and projections."""

    def fields(self, model: LoadedModel, layers: list[str]) -> dict[str, ReceptiveField]:
        return receptive_fields(model, layers, model.input_size)

    def render(self, store: AtlasStore, entry: LayerEntry, chunks: list[list[int]], progress: ProgressArg) -> None:
        store._render_images(entry, chunks, progress)

    def examples(self, store: AtlasStore, entries: list[LayerEntry], progress: ProgressArg) -> None:
        store._image_examples(entries, progress)

    def summary(self, model: LoadedModel) -> dict:
        return {}


PARTS: dict[str, ModalityParts] = {"image": ImageParts(), "audio": SoundParts()}
