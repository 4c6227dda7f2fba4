"""The activation pass of a dictionary job on Ray: workers run the model over shards of the source and send back each
forward pass's rows; the driver shuffles them exactly as the local stream does (`stream.RowStream`).

Imported by `RowStream` only when the engine is "ray". A shard starts where a forward pass of the local stream starts
and runs the same code (`rows.forward_rows`), so the rows, merged in shard order, are the local pass's, forward by
forward: the same batches, and for a seed the same dictionary, as the local engine wherever the forward gives the
same floats on a worker (one torch thread) as on the driver (tests/dictionary/test_on_ray.py checks both). Shards are
a few forwards each: the rows waiting on the driver stay small next to the shuffle buffer.
"""

from __future__ import annotations

from contextlib import closing
from typing import Callable, Iterator

import torch

from featurelens.data.sources import FolderSource, ImageSource
from featurelens.dataset_examples.shards import Shard, folder_seen_by_workers, shard_maker
from featurelens.dictionary.rows import forward_rows
from featurelens.distributed.cluster import connect
from featurelens.distributed.model_transfer import ModelRecipe, model_recipe, worker_model
from featurelens.distributed.ordered_tasks import ordered_tasks
from featurelens.engine import Engine
from featurelens.models import LoadedModel

FORWARDS_PER_SHARD = 4  # fashion-cnn's conv3: 4 × 256 images → 25 MiB of rows a shard


def ray_forward_rows(engine: Engine, model: LoadedModel, model_spec: str | None, layer: str, source: ImageSource,
                     limit: int | None, images_per_forward: int, size: int) -> Callable[[], Iterator[torch.Tensor]]:
    """A function that gives one pass's rows, forward by forward in the local order, computed on the Ray cluster."""
    cluster = connect(engine)
    recipe = model_recipe(model, model_spec)
    make_shard = shard_maker(source, isinstance(source, FolderSource) and not folder_seen_by_workers(source))
    entries = min(len(source), limit) if limit else len(source)
    step = FORWARDS_PER_SHARD * images_per_forward
    ranges = [(start, min(start + step, entries)) for start in range(0, entries, step)]
    settings = (layer, images_per_forward, size, cluster.device)

    def one_pass() -> Iterator[torch.Tensor]:
        calls = [_call(make_shard, start, stop, recipe, settings) for start, stop in ranges]
        with closing(ordered_tasks(shard_rows, calls, [stop - start for start, stop in ranges], cluster)) as events:
            for event in events:
                if event.index is not None:
                    yield from event.value

    return one_pass


def _call(make_shard: Callable[[int, int], Shard], start: int, stop: int, recipe: ModelRecipe, settings: tuple) -> Callable[[], tuple]:
    return lambda: (recipe, make_shard(start, stop), *settings)


def shard_rows(recipe: ModelRecipe, shard: Shard, layer: str, images_per_forward: int, size: int, device: str,
               progress: Callable[[int], None] | None = None) -> list[torch.Tensor]:
    """On a worker: the rows of each forward pass over one shard, on the driver's model (copies: a view would ship its
    whole storage)."""
    model = worker_model(recipe, device)
    source = shard.open()
    try:
        return [rows.cpu().clone() for rows in forward_rows(model, layer, source, shard.start, shard.stop, images_per_forward, size, progress)]
    finally:
        source.close()
