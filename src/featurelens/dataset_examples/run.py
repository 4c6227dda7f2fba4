"""The dataset-examples pass, for images and for sound: stream a source through the model once, keep each channel's
top-k and bottom-k.

`collect_examples` is the engine; `featurelens.dataset_examples.api.examples` adds checkpoint files,
projections and the plan/run split the command line uses. What differs between images and clips (how entries
are read and batched, what a checkpoint keeps of the source, how the pass is described) is asked of the
entries' reader, `ImageInputs` or `ClipInputs` (`reading.inputs_for`); the pass itself is one.

The forward pass stops at the deepest requested layer (`ActivationCapture`). Memory does not grow
with the dataset: O(layers × channels × k). The pass can hand out its state every N batches
(`on_checkpoint`) and continue from such a state (`resume`); the final ranking is the same as an
uninterrupted run's. Ctrl-C ends the pass after the last whole batch and returns what finished.
"""

from __future__ import annotations

import time
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch

from featurelens.capture import ActivationCapture
from featurelens.errors import FeaturelensError, require_positive
from featurelens.dataset_examples.entries import DoneEntries
from featurelens.dataset_examples.layers import check_settings, layer_names
from featurelens.dataset_examples.reading import EntryReader, inputs_for
from featurelens.dataset_examples.result import ExamplesResult, LayerExamples, RankedExamples
from featurelens.data.sources import Skipped
from featurelens.dataset_examples.state import ExamplesState
from featurelens.dataset_examples.distribution import ScoreSample
from featurelens.dataset_examples.topk import Ranked, StreamingTopK
from featurelens.geometry.effective_field import effective_boxes
from featurelens.models import LoadedModel, model_for, weights_digest
from featurelens.progress import ProgressArg, reporting


@dataclass(frozen=True)
class Finished:
    """What has finished, replaced as one object after each batch so Ctrl-C never leaves half a batch."""

    done: DoneEntries
    items_seen: int
    skipped: list[Skipped]
    ranked: Ranked  # the whole table of `StreamingTopK`
    cached_images: dict[int, torch.Tensor] = field(default_factory=dict)
    batches: int = 0  # batches finished in this run (on Ray: shards merged)
    shown: int | None = None  # entries the progress shows as read (None: `entries`); clips read ahead, Ray counts unmerged work
    sample: ScoreSample | None = None  # the score distribution, when the pass gathers one
    widths: dict[str, dict[int, int]] = field(default_factory=dict)  # layer → entry → map width where not the planned one

    @property
    def entries(self) -> int:
        """Entries done."""
        return len(self.done)


Stream = Callable[["PassPlan", StreamingTopK, Finished], Iterator[Finished]]


def collect_examples(
    model: LoadedModel | str,
    data: Any,
    layers: Sequence[str] | str,
    k: int = 9,
    reduce: str = "max",
    batch_size: int = 64,
    *,
    size: int | None = None,
    limit: int | None = None,
    device: torch.device | str | None = None,
    workers: int | None = None,
    distribution: int = 0,
    resume: ExamplesState | None = None,
    checkpoint_every: int = 0,
    on_checkpoint: Callable[[ExamplesState], None] | None = None,
    progress: ProgressArg = None,
) -> ExamplesResult:
    """Top-k ("max") and bottom-k ("min") inputs of every channel of `layers` over `data`.

    - `data`: a folder path, "fashion-mnist:train" / "fashion-mnist:test" / "photos", an `ImageSource`,
      or any iterable of [C, H, W] / [H, W] tensors, arrays or PIL images (or (image, label) pairs);
      for an audio model, a folder of audio files or "music".
    - `reduce`: "max" scores an input by the channel's spatial peak (its trough for bottom-k), "mean"
      by the spatial mean; positions are those of the peak (top-k) or trough (bottom-k).
    - Images are centre-cropped to a square and resized to `size` (default: the model's input size).
    - `limit`: use only the first `limit` entries. `progress(done, total)` counts entries consumed.
    - `checkpoint_every` batches, `on_checkpoint(state)` gets a state that `resume=` continues from.
    - `distribution`: also gather each channel's distribution of its top-k score over the dataset, with a
      uniform sample of at most this many images (every image when the source is no larger; 0: none).
    """
    require_positive("checkpoint_every", checkpoint_every, allow_zero=True)
    plan = plan_pass(model, data, layers, k, reduce, batch_size, size=size, limit=limit, device=device, workers=workers,
                     distribution=distribution)
    return run_pass(plan, resume, checkpoint_every, on_checkpoint, progress)


def run_pass(
    plan: "PassPlan",
    resume: ExamplesState | None = None,
    checkpoint_every: int = 0,
    on_checkpoint: Callable[[ExamplesState], None] | None = None,
    progress: ProgressArg = None,
    stream: Stream | None = None,
) -> ExamplesResult:
    """Stream the planned source through the model; Ctrl-C ends after the last whole batch and returns what finished.

    `stream` (default: this process, batch by batch) yields what has finished; the Ray engine passes
    one that merges shards ranked by workers. A checkpoint is handed out every `checkpoint_every`
    batches (or merged shards).
    """
    if resume is not None and resume.fingerprint != plan.fingerprint:
        differ = sorted(key for key in plan.fingerprint if plan.fingerprint[key] != resume.fingerprint.get(key))
        raise FeaturelensError(f"the checkpoint was made with other settings (differs in {', '.join(differ)}): start afresh")
    table = StreamingTopK(plan.channels, plan.k, plan.reduce, plan.model.device)
    clock = _Clock(resume.seconds if resume is not None else 0.0)
    done = _start(plan, resume, table)
    finished = (stream or _stream)(plan, table, done)
    interrupted = False
    saved = done.batches
    try:
        with reporting(progress, f"examples of {len(plan.layers)} layer(s)", rate_unit=plan.inputs.noun, transient=True) as report:
            for done in finished:
                report.update(done.shown or done.entries, plan.entries or None)
                if on_checkpoint is not None and checkpoint_every and done.batches != saved and done.batches % checkpoint_every == 0:
                    on_checkpoint(_snapshot(plan, table, done, clock))
                    saved = done.batches
    except KeyboardInterrupt:
        interrupted = True
    finally:
        finished.close()  # a distributed stream cancels the work still running; a local one stops its reading threads
        plan.source.close()
    if done.items_seen == 0 and not interrupted:
        if done.skipped:
            first = done.skipped[0]
            raise FeaturelensError(f"none of the {len(done.skipped)} files could be read (e.g. {first.item}: {first.reason})")
        raise FeaturelensError(f"the source {plan.source.name!r} has no {plan.inputs.noun}")
    state = _snapshot(plan, table, done, clock)
    layers_out = [_layer_examples(n, plan.shapes[n], plan.inputs.map_size(plan.shapes[n]), plan.fields[n],
                                  table.layer_ranked(done.ranked, n), done.widths.get(n, {})) for n in plan.layers]
    for layer in layers_out:
        if layer.receptive_field.method == "global" and len(plan.shapes[layer.layer]) == 3 and layer.height * layer.width > 1:
            _crop_by_effective_fields(plan, layer, done.cached_images, done.items_seen)
    if done.sample is not None:
        for layer, (start, stop) in zip(layers_out, channel_spans(plan.channels)):
            layer.distribution = done.sample.rows(start, stop)
    return ExamplesResult(plan.model.spec, plan.source, layers_out, plan.k, plan.reduce, plan.inputs.with_cached(done.cached_images),
                          done.items_seen, done.entries, list(done.skipped), plan.inputs.notes(), interrupted, state.seconds, state)


@dataclass
class PassPlan:
    """Everything fixed before the pass: model, layers, the entries' reader, layer shapes, receptive fields, fingerprint."""

    model: LoadedModel
    layers: list[str]
    inputs: EntryReader  # how entries are read, batched and shown: `ImageInputs` or `ClipInputs`
    shapes: dict[str, tuple[int, ...]]
    fields: dict
    fingerprint: dict
    k: int
    reduce: str
    batch_size: int
    limit: int | None
    model_spec: str | None = None  # the spec the model was given as (None: a LoadedModel), for workers to load
    distribution: int = 0  # entries sampled per channel for the score distribution (0: none)
    notes: list[str] = field(default_factory=list)  # what planning decided (a batch size lowered)

    @property
    def source(self) -> Any:
        """Where the entries come from: an `ImageSource` or an `AudioSource`."""
        return self.inputs.source

    @property
    def size(self) -> int:
        """The side of the images (px), or the frames of an audio model's own clip."""
        return self.inputs.size

    @property
    def channels(self) -> dict[str, int]:
        """Channels of each layer, in the order of `layers`."""
        return {name: self.shapes[name][0] for name in self.layers}

    @property
    def entries(self) -> int:
        """Entries the pass will read (0 when the source cannot say)."""
        return min(len(self.source), self.limit) if self.limit else len(self.source)

    def describe(self) -> str:
        """What the pass reads and how it ranks: "1000 entries of photos at 224 px, top and bottom 9 by max"."""
        return self.inputs.describe(self.entries, self.k, self.reduce)

    def run(self, resume: ExamplesState | None = None, checkpoint_every: int = 0,
            on_checkpoint: Callable[[ExamplesState], None] | None = None, progress: ProgressArg = None,
            stream: Stream | None = None) -> ExamplesResult:
        """The pass (`run_pass`)."""
        return run_pass(self, resume, checkpoint_every, on_checkpoint, progress, stream)


def plan_pass(
    model, data, layers, k: int = 9, reduce: str = "max", batch_size: int = 64, *,
    size: int | None = None, limit: int | None = None, device=None, workers: int | None = None, distribution: int = 0,
) -> PassPlan:
    """Check and resolve the inputs (cheap checks first, so mistakes fail fast)."""
    check_settings(k, reduce, batch_size, limit)
    require_positive("distribution", distribution, allow_zero=True)
    loaded = model_for(model, device)
    names = layer_names(loaded, layers)
    inputs = inputs_for(loaded, data, size, workers)
    shapes = inputs.layer_shapes(loaded, names)
    fields = inputs.fields(loaded, names)
    fingerprint = run_fingerprint(loaded, inputs.source, names, k, reduce, inputs.size)
    if distribution:
        fingerprint["distribution"] = distribution
    given = model if isinstance(model, str) else None
    plan = PassPlan(loaded, names, inputs, shapes, fields, fingerprint, k, reduce, batch_size, limit, given, distribution)
    if inputs.max_batch and batch_size > inputs.max_batch:
        plan.batch_size = inputs.max_batch
        plan.notes.append(f"{loaded.spec} runs at most {inputs.max_batch} {inputs.noun} at once (batch size {batch_size} lowered)")
    return plan


class _Clock:
    """Seconds of pass time, carried over from the run a checkpoint came from."""

    def __init__(self, before: float) -> None:
        self.before = before
        self.started = time.perf_counter()

    def seconds(self) -> float:
        return self.before + time.perf_counter() - self.started


def _stream(plan: PassPlan, table: StreamingTopK, done: Finished) -> Iterator[Finished]:
    """Run the source through the model batch by batch; yield what has finished after each batch."""
    return stream_entries(plan.model, plan.shapes, plan.inputs, table, done, plan.limit, plan.batch_size)


def stream_entries(
    model: LoadedModel, shapes: dict[str, tuple[int, ...]], inputs: EntryReader, table: StreamingTopK, done: Finished,
    stop: int | None, batch_size: int,
) -> Iterator[Finished]:
    """The entries below `stop` not yet `done` through the model, batch by batch, each batch ranked into `table`
    (`shapes`: each layer's planned output, in the table's order)."""
    # not inference_mode: LoadedModel caches normalize constants; `closing`: a reader's threads stop with the pass
    with torch.no_grad(), ActivationCapture(model.module, list(shapes)) as capture, \
            closing(inputs.batches(model, done.done, stop, batch_size)) as batches:
        max_rows = table.max_rows().to(model.device) if done.sample is not None else None
        for batch in batches:
            ranked, cached, sample = done.ranked, done.cached_images, done.sample
            if len(batch.indices):
                acts = capture.run(batch.inputs)
                _note_widths(done.widths, acts, shapes, batch.indices)
                ranked, sample = rank_batch(table, ranked, sample, max_rows, acts, batch.indices)
                del acts  # free this batch's maps before the next forward allocates its own
                if not inputs.source.random_access:
                    cached = _keep_winner_images(cached, ranked, batch.indices, batch.originals)
            done = Finished(batch.done, done.items_seen + len(batch.indices), done.skipped + batch.skipped, ranked,
                            cached, done.batches + 1, batch.read, sample, done.widths)
            yield done


def _note_widths(widths: dict[str, dict[int, int]], acts: dict[str, torch.Tensor], shapes: dict[str, tuple[int, ...]],
                 indices: torch.Tensor) -> None:
    """Record each entry's map width on [C, H, W] maps as wide as the entry itself (clips of other lengths than the
    planned one), so a flat position reads back as (y, x). An entry noted and then not ranked costs nothing."""
    for layer, act in acts.items():
        if act.dim() == 4 and act.shape[-1] != shapes[layer][-1]:
            widths.setdefault(layer, {}).update(dict.fromkeys(indices.tolist(), act.shape[-1]))


def rank_batch(table: StreamingTopK, ranked: Ranked, sample: ScoreSample | None, max_rows: torch.Tensor | None,
               acts: dict[str, torch.Tensor], indices: torch.Tensor) -> tuple[Ranked, ScoreSample | None]:
    """One batch's activations ranked into `table` (after `ranked`), and its top-k scores into the sample when there is one."""
    table.ranked = ranked
    maps = table.maps(acts)
    signed = table.signed_scores(maps)
    ranked = table.ranked_after(maps, signed, indices)
    if sample is not None:
        sample = sample.updated(signed[:, max_rows], indices)
    return ranked, sample


def _snapshot(plan: PassPlan, table: StreamingTopK, done: Finished, clock: _Clock) -> ExamplesState:
    """The state a checkpoint stores (rankings per layer, on the CPU, and what the reader keeps of its source)."""
    ranked = {n: {kind: r.to("cpu") for kind, r in table.layer_ranked(done.ranked, n).items()} for n in plan.layers}
    sample = done.sample.to("cpu") if done.sample is not None else None
    widths = {layer: dict(found) for layer, found in done.widths.items()}
    return ExamplesState(plan.fingerprint, done.done, done.items_seen, clock.seconds(), list(done.skipped), ranked,
                         dict(done.cached_images), sample, widths, plan.inputs.checkpoint(done.done))


def run_fingerprint(model: LoadedModel, source: Any, layers: list[str], k: int, reduce: str, size: int) -> dict:
    """What must match for a checkpoint to be continued: model and weights, source entries, layers, k, reduce, size."""
    return {
        "model": model.spec,
        "weights": weights_digest(model.module),
        "source": source.fingerprint() or source.name,
        "layers": list(layers),
        "k": k,
        "reduce": reduce,
        "size": size,
        "channels": model.in_channels,
    }


def _start(plan: PassPlan, resume: ExamplesState | None, table: StreamingTopK) -> Finished:
    device = plan.model.device
    if resume is None:
        return Finished(DoneEntries(), 0, [], Ranked.empty(table.rows, device), sample=empty_sample(table, plan.distribution, device))
    plan.inputs.restore(resume.source)
    ranked = table.from_layers(resume.ranked).to(device)
    sample = resume.sample.to(device) if resume.sample is not None else None
    widths = {layer: dict(found) for layer, found in resume.widths.items()}
    return Finished(resume.done, resume.items_seen, list(resume.skipped), ranked, dict(resume.cached_images), 0,
                    sample=sample, widths=widths)


def empty_sample(table: StreamingTopK, size: int, device: torch.device | str) -> ScoreSample | None:
    """A score distribution with room for `size` images per channel (None when the pass gathers none)."""
    return ScoreSample.empty(sum(table.channels.values()), size, device=device) if size else None


def channel_spans(channels: dict[str, int]) -> list[tuple[int, int]]:
    """Each layer's rows in a table of every channel (the ranking, the score sample): layer after layer."""
    spans, start = [], 0
    for count in channels.values():
        spans.append((start, start + count))
        start += count
    return spans

def _keep_winner_images(cached: dict, ranked: Ranked, indices: torch.Tensor, batch: torch.Tensor) -> dict:
    """Images of the entries that are some channel's example now (one-shot iterables cannot be re-read)."""
    wanted = set(ranked.indices.unique().tolist())
    kept = {i: image for i, image in cached.items() if i in wanted}
    for row, index in enumerate(indices.tolist()):
        if index in wanted:
            kept[index] = batch[row].clone()
    return kept


EFFECTIVE_BOXES = 2048  # gradients per layer for effective-field crops (one backward pass per example)
EFFECTIVE_PER_INPUT = 16  # ... and at most this many per input ranked: the crops never cost far more than the pass


def _crop_by_effective_fields(plan: "PassPlan", layer: LayerExamples, cached: dict[int, torch.Tensor], inputs: int) -> None:
    """Give the examples of a layer whose field is the whole input (attention) the box their unit's gradient marks:
    one backward per example, so at most EFFECTIVE_BOXES per layer and EFFECTIVE_PER_INPUT per input ranked, best
    ranks first (when even one rank of every unit is over budget, the best example of the first units); the rest show
    the whole input."""
    model = plan.model
    patch = (max(1, plan.size // layer.height), max(1, plan.size // layer.width))
    channels, kept = layer.ranked["max"].indices.shape
    per_kind = max(1, min(EFFECTIVE_BOXES, EFFECTIVE_PER_INPUT * inputs) // len(layer.ranked))
    ranks, units = max(1, min(kept, per_kind // channels)), min(channels, per_kind)
    def image_of(entry: int) -> torch.Tensor:
        return cached[entry] if entry in cached else plan.source.image(entry, model.in_channels, plan.size)

    for ranked in layer.ranked.values():
        entries = ranked.indices[:units, :ranks].reshape(-1)
        positions = torch.from_numpy(np.stack([ranked.y[:units, :ranks].reshape(-1), ranked.x[:units, :ranks].reshape(-1)], 1))
        boxes = np.tile(np.array([0, 0, plan.size, plan.size], np.int64), (channels, kept, 1))
        which = torch.arange(units).repeat_interleave(ranks)
        boxes[:units, :ranks] = effective_boxes(model, layer.layer, image_of, entries, which, positions, patch).reshape(units, ranks, 4)
        ranked.boxes = boxes
    layer.effective_ranks, layer.effective_units = ranks, units


def _layer_examples(name: str, shape: tuple[int, ...], map_size: tuple[int, int], field_, kinds: dict[str, Ranked],
                    widths: dict[int, int]) -> LayerExamples:
    """A layer's rankings as arrays, each flat position read as (y, x): on [C, H, W] maps y·W + x, W the map's width
    (the entry's own where `widths` has it); on [C, L] and [C] maps the position is x."""
    ranked = {}
    for kind, r in kinds.items():
        positions, indices = r.positions.cpu().numpy(), r.indices.cpu().numpy()
        if len(shape) == 3:
            width = np.vectorize(lambda i: widths.get(int(i), shape[2]), otypes=[np.int64])(indices) if widths and indices.size else shape[2]
            y, x = positions // width, positions % width
        else:
            y, x = np.zeros_like(positions), positions
        ranked[kind] = RankedExamples(r.scores.cpu().numpy(), indices, y, x)
    return LayerExamples(name, shape[0], *map_size, field_, ranked)
