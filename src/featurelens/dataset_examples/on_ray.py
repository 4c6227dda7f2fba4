"""Dataset examples on Ray: workers rank shards of the data, the driver merges them in order, exactly.

Imported by `ExamplesPlan.run` only when the engine is "ray".

The driver merges shard after shard in entry order (`ranges.merge_range`), so what has
been merged is always a prefix of the data: the checkpoint it saves is the local engine's own file
(same format, same fingerprint, `entries` = the merged prefix), and either engine continues from
the other's. Shards finished out of order wait (a few small tables) until the ones before them merge.
"""

from __future__ import annotations

from contextlib import closing
from dataclasses import replace
from typing import Callable, Iterator

from featurelens.dataset_examples.ranges import RangeRanking, merge_range, rank_range
from featurelens.dataset_examples.run import Finished, PassPlan, Stream
from featurelens.dataset_examples.shards import Shard, folder_seen_by_workers, shard_maker, shard_ranges
from featurelens.data.sources import FolderSource
from featurelens.dataset_examples.topk import StreamingTopK
from featurelens.distributed.cluster import connect
from featurelens.distributed.model_transfer import ModelRecipe, model_recipe, worker_model
from featurelens.distributed.ordered_tasks import ordered_tasks
from featurelens.engine import Engine


def examples_stream(engine: Engine, ship: bool | None = None) -> Stream:
    """A `run_pass` stream that ranks shards on Ray workers; `ship` forces (True) or forbids (False) sending a
    folder's bytes (None: only when some node does not see the driver's folder)."""

    def stream(plan: PassPlan, table: StreamingTopK, done: Finished) -> Iterator[Finished]:
        return _merged_shards(plan, done, engine, ship)

    return stream


def _merged_shards(plan: PassPlan, done: Finished, engine: Engine, ship: bool | None) -> Iterator[Finished]:
    cluster = connect(engine)
    recipe = model_recipe(plan.model, plan.model_spec, plan.fingerprint["weights"])
    if ship is None:
        ship = isinstance(plan.source, FolderSource) and not folder_seen_by_workers(plan.source)
    make_shard = shard_maker(plan.source, ship)
    ranges = shard_ranges(done.entries, plan.entries, plan.batch_size, cluster.workers)
    settings = (plan.shapes, plan.k, plan.reduce, plan.batch_size, plan.size, cluster.device, plan.distribution)
    calls = [_call(make_shard, start, stop, recipe, settings) for start, stop in ranges]
    start = done.entries
    with closing(ordered_tasks(rank_shard, calls, [stop - begin for begin, stop in ranges], cluster)) as events:
        for event in events:
            if event.index is not None:
                done = merge_range(done, event.value, plan.k)
            yield replace(done, shown=start + event.done)


def _call(make_shard: Callable[[int, int], Shard], start: int, stop: int, recipe: ModelRecipe, settings: tuple) -> Callable[[], tuple]:
    return lambda: (recipe, make_shard(start, stop), *settings)


def rank_shard(recipe: ModelRecipe, shard: Shard, shapes: dict[str, tuple[int, ...]], k: int, reduce: str, batch_size: int,
               size: int, device: str, distribution: int = 0, progress: Callable[[int], None] | None = None) -> RangeRanking:
    """On a worker: the ranking of one shard, on the driver's model (`shapes`: each layer's planned output)."""
    model = worker_model(recipe, device)
    source = shard.open()
    try:
        return rank_range(model, shapes, source, shard.start, shard.stop, k, reduce, batch_size, size, progress, distribution)
    finally:
        source.close()
