"""An atlas of an image model: each unit's max, min and diverse images (here, or on Ray), and its top and bottom
examples from one pass over the data, with the crop each unit saw and the projections of the top ones.

`ImageParts` is what the store asks for an image model (`atlas.store.PARTS`); like `atlas.audio` it reads the atlas
being built through `atlas.parts.AtlasBuild`, so imports run one way, store → images.
"""

from __future__ import annotations

from collections import defaultdict

from featurelens.atlas.files import crop_path, input_path, pass_path, projection_path, render_path, save_picture
from featurelens.atlas.manifest import LayerEntry
from featurelens.atlas.parts import AtlasBuild
from featurelens.atlas.pass_data import LayerPass
from featurelens.atlas.renders import UnitRenders, images_per_unit, render_extremes, render_plan, render_units, unit_renders
from featurelens.atlas.sanity import projection_choice, record_part
from featurelens.atlas.settings import DISTRIBUTION_SAMPLE, REDUCE, SPATIAL_SCORE
from featurelens.dataset_examples import ExamplesResult
from featurelens.dataset_examples.checkpoint import save_checkpoint, state_to_resume
from featurelens.dataset_examples.projections import example_projections
from featurelens.dataset_examples.run import plan_pass, run_pass
from featurelens.engine import check_engine
from featurelens.geometry import ReceptiveField, receptive_fields
from featurelens.models import LoadedModel
from featurelens.progress import ProgressArg, reporting
from featurelens.rendering import RenderSettings

CHECKPOINT = "examples-checkpoint.pt"  # the running state of an unfinished examples pass
EXAMPLE_CHUNK = 32  # units whose examples are written (and saved in the manifest) together
PASS_BATCH = 64
PROJECTION_BATCH = 16


class ImageParts:
    """An image model's atlas (the store's `ModalityParts` for images): receptive fields in pixels, renders with a
    diverse set, examples with crops and projections."""

    def fields(self, model: LoadedModel, layers: list[str]) -> dict[str, ReceptiveField]:
        return receptive_fields(model, layers, model.input_size)

    def render(self, store: AtlasBuild, entry: LayerEntry, chunks: list[list[int]], progress: ProgressArg) -> None:
        """An image model's renders: each chunk of units in one batch (max, min and diverse images), or all chunks on Ray."""
        s = store.settings
        per_unit = images_per_unit(s.diverse)
        render_settings = RenderSettings(size=s.render_setting(), steps=s.steps, seed=s.seed, max_batch=s.max_batch,
                                         engine=s.engine, address=s.address, workers=s.workers, judge=store.judges(),
                                         data=store.manifest.data)  # each image held against the atlas's data
        if s.engine == "ray":
            _renders_on_ray(store, entry, chunks, render_settings, progress)
            return
        units = sum(len(channels) for channels in chunks)
        total = units * per_unit * s.steps
        with reporting(progress, f"rendering {units} unit(s) of {entry.name}") as report:
            before = 0
            for channels in chunks:
                with store.report.timing("render"):
                    rendered = render_units(store.model, entry.name, channels, entry.spatial, render_settings, s.diverse,
                                            tick=lambda done, _, before=before: report.update(before + done, total))
                _write_renders(store, entry, rendered)
                before += len(channels) * per_unit * s.steps

    def examples(self, store: AtlasBuild, entries: list[LayerEntry], progress: ProgressArg) -> None:
        """An image model's examples: one pass for the layers without one, then per chunk of units the projections of
        their top examples, the crops and the records."""
        missing = [e for e in entries if e.pass_info is None or not (store.folder / pass_path(e.name)).is_file()]
        passes = _run_pass(store, missing, progress) if missing else {}
        method = projection_method(store) if any(set(e.units) - set(e.examples) for e in entries) else None
        for entry in entries:
            todo = [c for c in entry.units if c not in set(entry.examples)]
            store.report.examples_skipped += len(entry.units) - len(todo)
            if not todo:
                continue
            found = passes.get(entry.name) or LayerPass.load(store.folder / pass_path(entry.name))
            result = found.examples_of(entry.name, entry.shape, entry.field, store.source(), store.model.spec, store.settings.k,
                                       REDUCE, store.model.input_size, store.model.in_channels)
            for start in range(0, len(todo), EXAMPLE_CHUNK):
                chunk = todo[start:start + EXAMPLE_CHUNK]
                projections = {}
                if method:
                    with store.report.timing("projections"):
                        projections = example_projections(store.model, result, method, batch_size=PROJECTION_BATCH,
                                                          progress=progress, channels={entry.name: chunk})
                _write_examples(store, entry, result, found, chunk, projections)

    def summary(self, model: LoadedModel) -> dict:
        """Nothing besides the spec and the sizes: a manifest without `modality` is an image model's."""
        return {}


def _renders_on_ray(store: AtlasBuild, entry: LayerEntry, chunks: list[list[int]], settings: RenderSettings, progress: ProgressArg) -> None:
    """The local engine's batches of units, rendered at once by Ray workers (the same images); what finished is kept."""
    from featurelens.rendering.on_ray import render_plans_on_ray  # Ray only when asked for

    s = store.settings
    plans = [render_plan(store.model, entry.name, channels, entry.spatial, settings, s.diverse) for channels in chunks]
    with store.report.timing("render"):
        results = render_plans_on_ray(plans, plans[0].engine, progress)
    for channels, result in zip(chunks, results):
        if not result.interrupted:
            _write_renders(store, entry, unit_renders(channels, s.diverse, result))
    if any(result.interrupted for result in results):
        raise KeyboardInterrupt


def _write_renders(store: AtlasBuild, entry: LayerEntry, rendered: list[UnitRenders]) -> None:
    ext = store.manifest.settings["image_format"]
    parts = {}
    with store.report.timing("render"):
        extremes = render_extremes(store.model, entry.name, rendered)
    with store.report.timing("writing"):
        for unit in rendered:
            urls = {}
            for name, image in unit.named():
                urls[name] = render_path(entry.name, unit.channel, name, ext)
                save_picture(image.image, store.folder / urls[name])
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
    store.store_renders(entry, parts)


def projection_method(store: AtlasBuild) -> str | None:
    """The method the examples' projections use (None: no projections): the settings' method, or with "auto" the
    one that passes the sanity check best on the model. Every method's score is measured once and kept in the
    manifest (`projection`), so the whole atlas shows one method."""
    if not store.settings.project:
        return None
    if store.manifest.projection is None or store.manifest.projection.get("requested") != store.settings.project:
        with store.report.timing("projections"):
            store.manifest.projection = projection_choice(store.model, store.source(), store.manifest.data, store.settings.project,
                                                         store.settings.render_size(store.model), store.settings.limit)
        with store.report.timing("writing"):
            store.manifest.save(store.folder)
            store.pages.write_index(store.manifest)
    return store.manifest.projection["method"]


def _run_pass(store: AtlasBuild, entries: list[LayerEntry], progress: ProgressArg) -> dict[str, LayerPass]:
    """One pass for all `entries`, continued from the checkpoint an interrupted pass left; saves each layer's results."""
    plan = plan_pass(store.model, store.source(), [e.name for e in entries], store.settings.k, REDUCE, PASS_BATCH,
                     limit=store.settings.limit, distribution=DISTRIBUTION_SAMPLE)
    checkpoint = store.folder / CHECKPOINT
    resume, _ = state_to_resume(checkpoint, None, plan.fingerprint)
    s, stream = store.settings, None
    if s.engine == "ray":  # shards ranked by Ray workers, merged exactly
        from featurelens.dataset_examples.on_ray import examples_stream

        stream = examples_stream(check_engine(s.engine, s.address, s.workers))
    with store.report.timing("examples"):
        result = run_pass(plan, resume, 1 if stream else 20, lambda state: save_checkpoint(state, checkpoint), progress, stream)
    if result.interrupted:
        save_checkpoint(result.state, checkpoint)
        raise KeyboardInterrupt
    passes = {}
    with store.report.timing("writing"):
        for layer in result.layers:
            passes[layer.layer] = LayerPass.of(layer)
            passes[layer.layer].save(store.folder / pass_path(layer.layer))
            store.manifest.layer(layer.layer).pass_info = {"images": result.items_seen, "entries": result.entries,
                                                          "skipped": len(result.skipped), "seconds": round(result.seconds, 3)}
        store.manifest.save(store.folder)
        checkpoint.unlink(missing_ok=True)
    store.report.passes += len(entries)
    return passes


def _write_examples(store: AtlasBuild, entry: LayerEntry, result: ExamplesResult, found: LayerPass, channels: list[int], projections: dict) -> None:
    ext, size = store.manifest.settings["image_format"], store.model.input_size
    rows = defaultdict(list)
    for row in result.examples({entry.name: channels}):
        rows[row.index].append(row)
    examples = {c: {"max": [], "min": []} for c in channels}
    with store.report.timing("writing"):
        for index, members in rows.items():
            image = result.image(index)
            whole = input_path(index, ext)
            if not (store.folder / whole).is_file():
                save_picture(image, store.folder / whole)
            for row in members:
                x0, y0, x1, y1 = row.box
                crop = whole if row.box == (0, 0, size, size) else crop_path(entry.name, row.channel, row.kind, row.rank, ext)
                if crop != whole:
                    save_picture(image[y0:y1, x0:x1], store.folder / crop)
                picture = projections.get((row.layer, row.channel, row.kind, row.rank))
                projection = projection_path(entry.name, row.channel, row.rank, ext) if picture is not None else None
                if picture is not None:
                    save_picture(picture, store.folder / projection)
                examples[row.channel][row.kind].append({
                    "rank": row.rank, "score": row.score, "item": row.item, "index": row.index, "y": row.y, "x": row.x,
                    "box": list(row.box), "input": whole, "crop": crop, "projection": projection,
                })
        for found_examples in examples.values():
            for kind in found_examples.values():
                kind.sort(key=lambda example: example["rank"])
        score = SPATIAL_SCORE if entry.spatial else "value"
        shown = {"projection": record_part(store.manifest.projection)} if store.settings.project and store.manifest.projection else {}
        store.update_records(entry, {c: {"examples": examples[c], "distribution": found.distribution(c, score), **shown} for c in channels})
        entry.examples = sorted(set(entry.examples) | set(channels))
        store.manifest.save(store.folder)
        store.write_unit_pages(entry, set(channels))
    store.report.examples_built += len(channels)
