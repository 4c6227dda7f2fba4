"""The dataset-examples pass: stream a source through the model once, keep each channel's top-k and bottom-k.

`collect_examples` is the engine; `featurelens.dataset_examples.api.examples` adds checkpoint files,
projections and the plan/run split the command line uses.

The forward pass stops at the deepest requested layer (`ActivationCapture`). Memory does not grow
with the dataset: O(layers × channels × k). The pass can hand out its state every N batches
(`on_checkpoint`) and continue from such a state (`resume`); the final ranking is the same as an
uninterrupted run's. Ctrl-C ends the pass after the last whole batch and returns what finished.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch

from featurelens.capture import LOGIT, ActivationCapture, find_layer, probe
from featurelens.errors import FeaturelensError, bad_parameter, require_positive
from featurelens.dataset_examples.image_inputs import ImageInputs
from featurelens.dataset_examples.result import ExamplesResult, LayerExamples, RankedExamples
from featurelens.data.sources import ImageSource, Skipped, open_source
from featurelens.dataset_examples.state import ExamplesState
from featurelens.dataset_examples.distribution import ScoreSample
from featurelens.dataset_examples.topk import REDUCES, Ranked, StreamingTopK, merge_ranked
from featurelens.geometry import receptive_fields
from featurelens.geometry.effective_field import effective_boxes
from featurelens.models import LoadedModel, model_for, weights_digest
from featurelens.models.input_sizes import check_accepted
from featurelens.progress import ProgressArg, reporting


@dataclass(frozen=True)
class Finished:
    """What has finished, replaced as one object after each batch so Ctrl-C never leaves half a batch."""

    entries: int
    items_seen: int
    skipped: list[Skipped]
    ranked: Ranked  # the whole table of `StreamingTopK`
    cached_images: dict[int, torch.Tensor] = field(default_factory=dict)
    batches: int = 0  # batches finished in this run (on Ray: shards merged)
    shown: int | None = None  # entries the progress shows as done (None: `entries`); Ray counts unmerged work too
    sample: ScoreSample | None = None  # the score distribution, when the pass gathers one


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
      or any iterable of [C, H, W] / [H, W] tensors, arrays or PIL images (or (image, label) pairs).
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
        with reporting(progress, f"examples of {len(plan.layers)} layer(s)", rate_unit="images", transient=True) as report:
            for done in finished:
                report.update(done.shown or done.entries, plan.entries or None)
                if on_checkpoint is not None and checkpoint_every and done.batches != saved and done.batches % checkpoint_every == 0:
                    on_checkpoint(_snapshot(plan, table, done, clock))
                    saved = done.batches
    except KeyboardInterrupt:
        interrupted = True
    finally:
        finished.close()  # a distributed stream cancels the work still running
        plan.source.close()
    if done.items_seen == 0 and not interrupted:
        if done.skipped:
            first = done.skipped[0]
            raise FeaturelensError(f"none of the {len(done.skipped)} files could be read (e.g. {first.item}: {first.reason})")
        raise FeaturelensError(f"the source {plan.source.name!r} has no images")
    state = _snapshot(plan, table, done, clock)
    layers_out = [_layer_examples(n, plan.shapes[n], plan.fields[n], table.layer_ranked(done.ranked, n)) for n in plan.layers]
    for layer in layers_out:
        if layer.receptive_field.method == "global" and len(plan.shapes[layer.layer]) == 3 and layer.height * layer.width > 1:
            _crop_by_effective_fields(plan, layer, done.cached_images)
    if done.sample is not None:
        for layer, (start, stop) in zip(layers_out, channel_spans(plan.channels)):
            layer.distribution = done.sample.rows(start, stop)
    inputs = ImageInputs(plan.source, plan.size, plan.model.in_channels, dict(done.cached_images))
    return ExamplesResult(plan.model.spec, plan.source, layers_out, plan.k, plan.reduce, inputs, done.items_seen, done.entries,
                          list(done.skipped), interrupted=interrupted, seconds=state.seconds, state=state)


@dataclass
class PassPlan:
    """Everything fixed before the pass: model, layers, source, input size, layer shapes, receptive fields, fingerprint."""

    model: LoadedModel
    layers: list[str]
    source: ImageSource
    size: int
    shapes: dict[str, tuple[int, ...]]
    fields: dict
    fingerprint: dict
    k: int
    reduce: str
    batch_size: int
    limit: int | None
    model_spec: str | None = None  # the spec the model was given as (None: a LoadedModel), for workers to load
    distribution: int = 0  # images sampled per channel for the score distribution (0: none)
    notes: list[str] = field(default_factory=list)  # what planning decided (an image pass decides nothing to say)
    read_state = staticmethod(ExamplesState.from_dict)  # how its checkpoint file is read (a class attribute, not a field)

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
        count = f"{self.entries} entries of " if self.entries else ""
        return f"{count}{self.source.name} at {self.size} px, top and bottom {self.k} by {self.reduce}"

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
    images = open_source(data, workers)
    size = size or loaded.input_size
    if size < loaded.min_size:
        raise bad_parameter("size", f"{size} is below {loaded.spec}'s minimum of {loaded.min_size} pixels")
    shapes = layer_shapes(loaded, names, size)
    fields = receptive_fields(loaded, names, size)
    fingerprint = run_fingerprint(loaded, images, names, k, reduce, size)
    if distribution:
        fingerprint["distribution"] = distribution
    given = model if isinstance(model, str) else None
    return PassPlan(loaded, names, images, size, shapes, fields, fingerprint, k, reduce, batch_size, limit, given, distribution)


class _Clock:
    """Seconds of pass time, carried over from the run a checkpoint came from."""

    def __init__(self, before: float) -> None:
        self.before = before
        self.started = time.perf_counter()

    def seconds(self) -> float:
        return self.before + time.perf_counter() - self.started


def _stream(plan: PassPlan, table: StreamingTopK, done: Finished) -> Iterator[Finished]:
    """Run the source through the model batch by batch; yield what has finished after each batch."""
    return stream_entries(plan.model, plan.layers, plan.source, table, done, plan.limit, plan.batch_size, plan.size)


def stream_entries(
    model: LoadedModel, layers: list[str], source: ImageSource, table: StreamingTopK, done: Finished,
    stop: int | None, batch_size: int, size: int,
) -> Iterator[Finished]:
    """Entries `done.entries` … `stop`-1 of `source` through the model, batch by batch, each batch ranked into `table`."""
    with torch.no_grad(), ActivationCapture(model.module, layers) as capture:  # not inference_mode: LoadedModel caches normalize constants
        max_rows = table.max_rows().to(model.device) if done.sample is not None else None
        for batch in source.batches(done.entries, stop, batch_size, model.in_channels, size):
            ranked, cached, sample = done.ranked, done.cached_images, done.sample
            if len(batch.indices):
                acts = capture.run(model.normalize(batch.images.to(model.device, non_blocking=True)))
                ranked, sample = rank_batch(table, ranked, sample, max_rows, acts, batch.indices)
                del acts  # free this batch's maps before the next forward allocates its own
                if not source.random_access:
                    cached = _keep_winner_images(cached, ranked, batch.indices, batch.images)
            done = Finished(batch.end, done.items_seen + len(batch.indices), done.skipped + batch.skipped, ranked,
                            cached, done.batches + 1, sample=sample)
            yield done


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


@dataclass
class RangeRanking:
    """The ranking of one range of entries `start` … `stop`-1 (a shard): the whole table on the CPU, with its counts."""

    start: int
    stop: int
    items_seen: int
    skipped: list[Skipped]
    ranked: Ranked
    sample: ScoreSample | None = None  # the range's score distribution, when the pass gathers one


def rank_range(
    model: LoadedModel, channels: dict[str, int], source: ImageSource, start: int, stop: int, k: int, reduce: str,
    batch_size: int, size: int, progress: Callable[[int], None] | None = None, distribution: int = 0,
) -> RangeRanking:
    """Top-k and bottom-k of every channel over entries `start` … `stop`-1 alone (what one Ray worker does with a shard).

    `start` must be where a batch of the whole pass starts, so the batches, and with them every score,
    are those of a single pass; `merge_range` then folds the shard's ranking in exactly.
    `progress(entries done in the range)` after each batch.
    """
    table = StreamingTopK(channels, k, reduce, model.device)
    done = Finished(start, 0, [], Ranked.empty(table.rows, model.device), sample=empty_sample(table, distribution, model.device))
    for done in stream_entries(model, list(channels), source, table, done, stop, batch_size, size):
        if progress is not None:
            progress(done.entries - start)
    sample = done.sample.to("cpu") if done.sample is not None else None
    return RangeRanking(start, done.entries, done.items_seen, list(done.skipped), done.ranked.to("cpu"), sample)


def merge_range(done: Finished, ranking: RangeRanking, k: int) -> Finished:
    """What has finished once the range that starts at `done.entries` is added (its skipped entries follow in order)."""
    if ranking.start != done.entries:
        raise ValueError(f"ranges merge in order: expected one starting at {done.entries}, got {ranking.start}")
    ranked = merge_ranked([done.ranked, ranking.ranked], k)
    sample = done.sample.merged(ranking.sample) if done.sample is not None and ranking.sample is not None else done.sample
    return replace(done, entries=ranking.stop, items_seen=done.items_seen + ranking.items_seen,
                   skipped=done.skipped + ranking.skipped, ranked=ranked, batches=done.batches + 1, shown=None, sample=sample)


def _snapshot(plan: PassPlan, table: StreamingTopK, done: Finished, clock: _Clock) -> ExamplesState:
    """The state a checkpoint stores (rankings per layer, on the CPU)."""
    ranked = {n: {kind: r.to("cpu") for kind, r in table.layer_ranked(done.ranked, n).items()} for n in plan.layers}
    sample = done.sample.to("cpu") if done.sample is not None else None
    return ExamplesState(plan.fingerprint, done.entries, done.items_seen, clock.seconds(), list(done.skipped), ranked,
                         dict(done.cached_images), sample)


def layer_names(model: LoadedModel, layers: Sequence[str] | str) -> list[str]:
    """The layers asked for ("a,b" or a list), each checked to exist (unknown names fail with the closest ones)."""
    names = [n.strip() for n in layers.split(",")] if isinstance(layers, str) else [str(n).strip() for n in layers]
    names = list(dict.fromkeys(n for n in names if n))
    if not names:
        raise bad_parameter("layers", "names none: give at least one, e.g. conv2 (see `featurelens layers`)")
    for name in names:
        if name != LOGIT:
            find_layer(model.module, name)
    return names


def check_settings(k: int, reduce: str, batch_size: int, limit: int | None) -> None:
    """Cheap checks of the ranking knobs, each a one-line error naming its parameter."""
    if not isinstance(k, int) or k <= 0:
        raise bad_parameter("k", f"must be a positive number of examples per unit, got {k}")
    if reduce not in REDUCES:
        raise FeaturelensError(f"unknown {{parameter}} {reduce!r}: use {' or '.join(REDUCES)}", parameter="reduce")
    require_positive("batch_size", batch_size)
    if limit is not None:
        require_positive("limit", limit)


def layer_shapes(model: LoadedModel, names: list[str], size: int) -> dict[str, tuple[int, ...]]:
    """Output shape (without batch) of each layer, from the model's probe; only [C], [C, L] and [C, H, W] rank."""
    check_accepted(model, size, names)
    found = probe(model, size)
    known = found.shapes()
    shapes = {}
    for name in names:
        if name not in known:
            reason = found.unreachable(name, model.spec)
            raise FeaturelensError(reason or f"layer {name!r} produces no tensor in the forward pass: pick another (see `featurelens layers`)")
        shape = known[name]
        if not 1 <= len(shape) <= 3:
            raise FeaturelensError(f"layer {name!r} has output shape {shape}: pick a layer with [C], [C, L] or [C, H, W] outputs")
        shapes[name] = shape
    return shapes


def run_fingerprint(model: LoadedModel, source: ImageSource, layers: list[str], k: int, reduce: str, size: int) -> dict:
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
        return Finished(0, 0, [], Ranked.empty(table.rows, device), sample=empty_sample(table, plan.distribution, device))
    ranked = table.from_layers(resume.ranked).to(device)
    sample = resume.sample.to(device) if resume.sample is not None else None
    return Finished(resume.entries, resume.items_seen, list(resume.skipped), ranked, dict(resume.cached_images), 0, sample=sample)


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


def _crop_by_effective_fields(plan: "PassPlan", layer: LayerExamples, cached: dict[int, torch.Tensor]) -> None:
    """Give the examples of a layer whose field is the whole input (attention) the box their unit's gradient marks:
    one backward per example, so at most EFFECTIVE_BOXES per layer, best ranks first; the rest show the whole input."""
    model = plan.model
    patch = (max(1, plan.size // layer.height), max(1, plan.size // layer.width))
    channels, kept = layer.ranked["max"].indices.shape
    ranks = max(1, min(kept, EFFECTIVE_BOXES // max(1, channels * len(layer.ranked))))
    def image_of(entry: int) -> torch.Tensor:
        return cached[entry] if entry in cached else plan.source.image(entry, model.in_channels, plan.size)

    for ranked in layer.ranked.values():
        entries = ranked.indices[:, :ranks].reshape(-1)
        positions = torch.from_numpy(np.stack([ranked.y[:, :ranks].reshape(-1), ranked.x[:, :ranks].reshape(-1)], 1))
        units = torch.arange(channels).repeat_interleave(ranks)
        boxes = np.tile(np.array([0, 0, plan.size, plan.size], np.int64), (channels, kept, 1))
        boxes[:, :ranks] = effective_boxes(model, layer.layer, image_of, entries, units, positions, patch).reshape(channels, ranks, 4)
        ranked.boxes = boxes
    layer.effective_ranks = ranks


def _layer_examples(name: str, shape: tuple[int, ...], field_, kinds: dict[str, Ranked]) -> LayerExamples:
    height, width = (shape[1], shape[2]) if len(shape) == 3 else (1, shape[1] if len(shape) == 2 else 1)
    ranked = {}
    for kind, r in kinds.items():
        positions = r.positions.cpu()
        ranked[kind] = RankedExamples(
            r.scores.cpu().numpy(), r.indices.cpu().numpy(), (positions // width).numpy(), (positions % width).numpy()
        )
    return LayerExamples(name, shape[0], height, width, field_, ranked)
