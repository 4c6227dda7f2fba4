"""The entries of an image model's examples: images read at the pass's size, each example the crop its unit saw.

What an examples result and its writer ask of images (`result.ExampleInputs`): the rows with their crop boxes, an
entry as a picture, the table's columns, and the files: inputs/<ENTRY>.png, crops/<LAYER>/c<C>-<KIND><RANK>.png
(a crop that is the whole input is the input's own PNG) and projections/<LAYER>/…png.
"""

from __future__ import annotations

import os
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar, Collection, Iterator, Mapping

import numpy as np
import torch

from featurelens.data.sources import ImageSource, open_source
from featurelens.dataset_examples.entries import DoneEntries, EntryBatch
from featurelens.dataset_examples.files import channel_blocks
from featurelens.dataset_examples.layers import layer_shapes
from featurelens.dataset_examples.rows import Example, ranked_slots
from featurelens.errors import bad_parameter
from featurelens.geometry import ReceptiveField, receptive_fields
from featurelens.models import LoadedModel
from featurelens.output.images import safe_filename, to_pil

@dataclass
class ImageInputs:
    """Entries of `source` as the model saw them: centre-cropped, `size` px square, `channels` deep; `cached` holds the
    winners' images of a one-shot iterable (which cannot be read again)."""

    source: ImageSource
    size: int
    channels: int
    cached: dict[int, torch.Tensor] = field(default_factory=dict, repr=False)

    noun = "images"  # class attributes, not fields: fixed for images
    figures = "dataset_examples/_images.html.j2"
    players_per_example = 0
    unavailable: ClassVar[dict[str, Any]] = {}  # settings an image model's examples refuse: none
    max_batch: ClassVar[int | None] = None  # images a model takes at once: any number

    @classmethod
    def opened(cls, model: LoadedModel, data: Any, size: int | None, workers: int | None) -> "ImageInputs":
        """`data` as `model` sees it, at `size` px (default: its input size); `workers` threads decode files."""
        source = open_source(data, workers)
        size = size or model.input_size
        if size < model.min_size:
            raise bad_parameter("size", f"{size} is below {model.spec}'s minimum of {model.min_size} pixels")
        return cls(source, size, model.in_channels)

    def item(self, index: int) -> str | int:
        """How the source names entry `index`: path relative to the folder, or the index."""
        return self.source.key(index)

    def picture(self, index: int) -> np.ndarray:
        """Entry `index` as the model saw it: uint8 [S, S, C]."""
        tensor = self.cached.get(index)
        if tensor is None:
            tensor = self.source.image(index, self.channels, self.size)
        return (tensor.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()

    def no_pictures(self) -> np.ndarray:
        return np.zeros((0, self.size, self.size, self.channels), np.uint8)

    def rows(self, layers: list, channels: Mapping[str, Collection[int]] | None) -> Iterator[Example]:
        """Every (layer, channel, kind, rank) row with its crop box; with `channels` ({layer: channels}), only those."""
        for layer, channel, kind, rank in ranked_slots(layers, channels):
            ranked = layer.ranked[kind]
            index = int(ranked.indices[channel, rank])
            yield Example(layer.layer, channel, kind, rank + 1, float(ranked.scores[channel, rank]), index, self.item(index),
                          int(ranked.y[channel, rank]), int(ranked.x[channel, rank]), layer.box(kind, channel, rank))

    def facts(self, layers: list) -> dict:
        """What summary.json adds for images: the input size and which crop each layer's examples show."""
        return {"input_size": self.size, "crops": {layer.layer: layer.crop for layer in layers}}

    def write_table(self, rows: list[Example], path: Path) -> Path:
        """The examples table as Parquet (`write_table`)."""
        return write_table(rows, path)

    def write(self, result: Any, rows: list[Example], out_dir: Path, projections: Mapping, workers: int | None) -> None:
        """Each example input once (loaded once, then all its crops), in threads; projections if given."""
        by_index: dict[int, list[Example]] = defaultdict(list)
        for row in rows:
            by_index[row.index].append(row)
        size = self.size
        folders = {out_dir / "inputs"} | {(out_dir / crop_path(row, size)).parent for row in rows}
        if projections:
            folders |= {(out_dir / projection_path(row)).parent for row in rows}
        for folder in folders:
            folder.mkdir(parents=True, exist_ok=True)

        def write_one(index: int) -> None:
            image = self.picture(index)
            _save(image, out_dir / input_path(index))
            for row in by_index[index]:
                x0, y0, x1, y1 = row.box
                if crop_path(row, size) != input_path(index):
                    _save(np.ascontiguousarray(image[y0:y1, x0:x1]), out_dir / crop_path(row, size))
                projection = projections.get((row.layer, row.channel, row.kind, row.rank))
                if projection is not None:
                    _save(np.asarray(projection, dtype=np.uint8), out_dir / projection_path(row))

        with ThreadPoolExecutor(workers or max(1, min(8, os.cpu_count() or 1))) as pool:
            list(pool.map(write_one, sorted(by_index)))

    def blocks(self, result: Any, layer: Any, rows: list[Example], projections: Mapping) -> list[dict]:
        """Template data: per channel, the top and the bottom examples with paths, caption and outline box (in %)."""
        return channel_blocks(rows, lambda row: self._figure(row, projections))

    def _figure(self, row: Example, projections: Mapping) -> dict:
        size, (x0, y0, x1, y1) = self.size, row.box
        return {
            "input": input_path(row.index), "crop": crop_path(row, size),
            "projection": projection_path(row) if (row.layer, row.channel, row.kind, row.rank) in projections else None,
            "outline": {"left": 100 * x0 / size, "top": 100 * y0 / size, "width": 100 * (x1 - x0) / size, "height": 100 * (y1 - y0) / size},
        }

    def page_facts(self) -> dict:
        """What the pages show of images: the thumbnail side (small inputs are shown larger, pixelated)."""
        return {"size": self.size, "thumb": max(64, min(self.size, 112))}

    # What the examples pass asks of its entries (`run.PassPlan`).

    def layer_shapes(self, model: LoadedModel, names: list[str]) -> dict[str, tuple[int, ...]]:
        """Each layer's output [C], [C, L] or [C, H, W] at the pass's size."""
        return layer_shapes(model, names, self.size)

    def fields(self, model: LoadedModel, names: list[str]) -> dict[str, ReceptiveField]:
        """What each layer's units see of an image."""
        return receptive_fields(model, names, self.size)

    def describe(self, entries: int, k: int, reduce: str) -> str:
        """"1000 entries of photos at 224 px, top and bottom 9 by max"."""
        count = f"{entries} entries of " if entries else ""
        return f"{count}{self.source.name} at {self.size} px, top and bottom {k} by {reduce}"

    def map_size(self, shape: tuple[int, ...]) -> tuple[int, int]:
        """(height, width) of a layer's map of output `shape`: [C, H, W], [C, L] as 1 × L, [C] as 1 × 1."""
        return (shape[1], shape[2]) if len(shape) == 3 else (1, shape[1] if len(shape) == 2 else 1)

    def batches(self, model: LoadedModel, done: DoneEntries, stop: int | None, batch_size: int) -> Iterator[EntryBatch]:
        """The entries after the done prefix, in order, normalised for `model`."""
        for batch in self.source.batches(done.prefix, stop, batch_size, self.channels, self.size):
            inputs = model.normalize(batch.images.to(model.device, non_blocking=True)) if len(batch.indices) else batch.images
            yield EntryBatch(inputs, batch.indices, DoneEntries(batch.end), batch.end, batch.skipped, batch.images)

    def checkpoint(self, done: DoneEntries) -> dict:
        """Nothing of the source to keep: an image source reads the same after a restart."""
        return {}

    def restore(self, state: dict) -> None:
        """Nothing to restore (see `checkpoint`)."""

    def notes(self) -> list[str]:
        """Nothing to say about the files read: unreadable ones are the result's `skipped`."""
        return []

    def with_cached(self, images: dict[int, torch.Tensor]) -> "ImageInputs":
        """These inputs, with the winners' images of a one-shot iterable kept."""
        return replace(self, cached=dict(images))


def write_table(rows: list[Example], path: Path) -> Path:
    """The examples table as Parquet: layer, channel, kind, rank, score, item, y, x, x0, y0, x1, y1."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    items = [row.item for row in rows]
    item_type = pa.string() if any(isinstance(item, str) for item in items) else pa.int64()
    columns = {
        "layer": pa.array([row.layer for row in rows], pa.string()),
        "channel": pa.array([row.channel for row in rows], pa.int32()),
        "kind": pa.array([row.kind for row in rows], pa.string()),
        "rank": pa.array([row.rank for row in rows], pa.int32()),
        "score": pa.array([row.score for row in rows], pa.float32()),
        "item": pa.array([str(i) for i in items] if item_type == pa.string() else items, item_type),
        "y": pa.array([row.y for row in rows], pa.int32()),
        "x": pa.array([row.x for row in rows], pa.int32()),
    }
    for i, name in enumerate(("x0", "y0", "x1", "y1")):
        columns[name] = pa.array([row.box[i] for row in rows], pa.int32())
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), path)
    return path


def input_path(index: int) -> str:
    return f"inputs/{index:07d}.png"


def crop_path(row: Example, size: int) -> str:
    """The crop's PNG; a crop that is the whole `size`-pixel input is the input's own PNG (deep layers: most of them)."""
    if row.box == (0, 0, size, size):
        return input_path(row.index)
    return f"crops/{safe_filename(row.layer)}/c{row.channel:04d}-{row.kind}{row.rank:02d}.png"


def projection_path(row: Example) -> str:
    return f"projections/{safe_filename(row.layer)}/c{row.channel:04d}-{row.kind}{row.rank:02d}.png"


def _save(image: np.ndarray, path: Path) -> None:
    # Fast compression: a run can write tens of thousands of small PNGs.
    to_pil(image).save(path, format="PNG", compress_level=1)
