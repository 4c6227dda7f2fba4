"""Ranges of entries ranked alone, then merged in order into exactly the ranking of one pass (what the Ray engine's
workers and driver do with shards of an image source)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable

from featurelens.data.sources import ImageSource, Skipped
from featurelens.dataset_examples.distribution import ScoreSample
from featurelens.dataset_examples.entries import DoneEntries
from featurelens.dataset_examples.image_inputs import ImageInputs
from featurelens.dataset_examples.run import Finished, empty_sample, stream_entries
from featurelens.dataset_examples.topk import Ranked, StreamingTopK, merge_ranked
from featurelens.models import LoadedModel


@dataclass
class RangeRanking:
    """The ranking of one range of entries `start` … `stop`-1 (a shard): the whole table on the CPU, with its counts."""

    start: int
    stop: int
    items_seen: int
    skipped: list[Skipped]
    ranked: Ranked
    sample: ScoreSample | None = None  # the range's score distribution, when the pass gathers one
    widths: dict[str, dict[int, int]] = field(default_factory=dict)  # as `Finished.widths`


def rank_range(
    model: LoadedModel, shapes: dict[str, tuple[int, ...]], source: ImageSource, start: int, stop: int, k: int, reduce: str,
    batch_size: int, size: int, progress: Callable[[int], None] | None = None, distribution: int = 0,
) -> RangeRanking:
    """Top-k and bottom-k of every channel over entries `start` … `stop`-1 alone (what one Ray worker does with a shard).

    `start` must be where a batch of the whole pass starts, so the batches, and with them every score,
    are those of a single pass; `merge_range` then folds the shard's ranking in exactly.
    `progress(entries done in the range)` after each batch.
    """
    table = StreamingTopK({name: shape[0] for name, shape in shapes.items()}, k, reduce, model.device)
    done = Finished(DoneEntries(start), 0, [], Ranked.empty(table.rows, model.device),
                    sample=empty_sample(table, distribution, model.device))
    inputs = ImageInputs(source, size, model.in_channels)
    for done in stream_entries(model, shapes, inputs, table, done, stop, batch_size):
        if progress is not None:
            progress(done.entries - start)
    sample = done.sample.to("cpu") if done.sample is not None else None
    return RangeRanking(start, done.entries, done.items_seen, list(done.skipped), done.ranked.to("cpu"), sample, done.widths)


def merge_range(done: Finished, ranking: RangeRanking, k: int) -> Finished:
    """What has finished once the range that starts at `done.entries` is added (its skipped entries follow in order)."""
    if ranking.start != done.entries:
        raise ValueError(f"ranges merge in order: expected one starting at {done.entries}, got {ranking.start}")
    ranked = merge_ranked([done.ranked, ranking.ranked], k)
    sample = done.sample.merged(ranking.sample) if done.sample is not None and ranking.sample is not None else done.sample
    for layer, widths in ranking.widths.items():
        done.widths.setdefault(layer, {}).update(widths)
    return replace(done, done=done.done.through(ranking.stop), items_seen=done.items_seen + ranking.items_seen,
                   skipped=done.skipped + ranking.skipped, ranked=ranked, batches=done.batches + 1, shown=None, sample=sample)
