"""`AtlasStore`: an atlas folder that knows what it holds and builds what is missing.

The `atlas` job and the live server share it: `ensure_renders` and `ensure_examples` compute only
what the manifest does not list yet, write the pictures, the unit records, the manifest and the
pages those touch, chunk by chunk, so a Ctrl-C (KeyboardInterrupt, re-raised after saving) keeps
every finished chunk and a second call does the rest. One job at a time; readers on other threads
only ever see whole files (every write is a rename). How fields are measured, units rendered and
examples found is the model's modality's way (`PARTS`: `atlas.images`, `atlas.audio`).
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np

from featurelens.atlas.audio import SoundParts
from featurelens.atlas.files import INDEX, MANIFEST, picture_format, read_json, record_path, unit_page_path, write_json
from featurelens.atlas.images import ImageParts
from featurelens.atlas.layers import layer_info
from featurelens.atlas.manifest import LayerEntry, Manifest
from featurelens.atlas.pages import AtlasPages
from featurelens.atlas.parts import ModalityParts
from featurelens.atlas.renders import images_per_unit
from featurelens.atlas.settings import AUTO_PROJECTION, REDUCE, SPATIAL_SCORE, AtlasSettings, data_spec
from featurelens.capture import LOGIT, probe
from featurelens.data.sources import open_source
from featurelens.errors import FeaturelensError
from featurelens.models import LoadedModel, model_for
from featurelens.output.paths import check_output_folder
from featurelens.progress import ProgressArg
from featurelens.rendering.optimize import judge_list
from featurelens.units.resolve import channel_out_of_range

RECORD_FORMAT = 1
PARTS: dict[str, ModalityParts] = {"image": ImageParts(), "audio": SoundParts()}  # by `LoadedModel.modality.name`


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

    def judges(self) -> tuple[LoadedModel, ...]:
        """The judge models of the settings (`plan_atlas` hands them loaded), loaded once when given as specs."""
        if self._judges is None:
            self._judges = tuple(model_for(spec, self.model.device) for spec in judge_list(self.settings.judge))
        return self._judges

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

    def source(self):
        """The data source, opened once (examples' inputs are read again for crops and projections)."""
        if self._source is None:
            self._source = open_source(self.manifest.data)
        return self._source


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

