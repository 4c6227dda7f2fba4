"""Shards of an examples source: ranges of entries, each described so that a Ray worker can read it.

- built-in sources (fashion-mnist, photos) are opened on the worker itself;
- a folder is read where it lies when every worker node sees the same files (shared storage, or a
  local Ray instance); otherwise the driver reads each shard's files and ships their bytes;
- a tensor given in Python is shipped, slice by slice.
Shards start where a batch of the whole pass starts, so workers see the very batches a local pass sees.
Python iterables are read by the local engine only (a worker cannot replay them).
"""

from __future__ import annotations

import math
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import torch

from featurelens.data.sources import (
    BUILTIN_SOURCES, FileBytesSource, FolderSource, ImageSource, PhotoSource, SourceBatch, TensorSource, open_source,
    read_file_bytes,
)
from featurelens.errors import FeaturelensError

SHARDS_PER_WORKER = 4  # enough shards to even out slow and fast workers
MAX_SHARD_BATCHES = 16  # small shards: little lost when a worker dies or the driver stops


def check_shardable(source: ImageSource) -> None:
    """Refuse, at plan time, a source Ray workers cannot read: a Python iterable."""
    if not isinstance(source, (FolderSource, TensorSource, PhotoSource)):
        raise FeaturelensError("on Ray, give a folder of images, a built-in source or a tensor: a Python iterable "
                               "is read by the local engine only (engine='local')")


def shard_ranges(start: int, stop: int, batch_size: int, workers: int) -> list[tuple[int, int]]:
    """Entries `start` … `stop`-1 cut into whole batches (`start` is a batch boundary), a few shards per worker."""
    batches = math.ceil((stop - start) / batch_size)
    per_shard = max(1, min(MAX_SHARD_BATCHES, math.ceil(batches / (SHARDS_PER_WORKER * workers))))
    step = per_shard * batch_size
    return [(begin, min(begin + step, stop)) for begin in range(start, stop, step)]


def shard_maker(source: ImageSource, ship: bool) -> Callable[[int, int], "Shard"]:
    """A function (start, stop) → the shard a worker reads; `ship` sends a folder's bytes instead of its paths."""
    if isinstance(source, FolderSource):
        if ship:
            return lambda start, stop: BytesShard(start, stop, source.keys[start:stop],
                                                  [read_file_bytes(source.files[i], source.keys[i]) for i in range(start, stop)])
        # Absolute paths: a worker's working folder is not the driver's.
        return lambda start, stop: FolderShard(start, stop, os.path.abspath(source.root),
                                               [os.path.abspath(f) for f in source.files[start:stop]], _sizes(source.files[start:stop]))
    if source.name in BUILTIN_SOURCES:
        return lambda start, stop: BuiltinShard(start, stop, source.name)
    return lambda start, stop: TensorShard(start, stop, source.images[start:stop].clone())


@dataclass
class Shard:
    """Entries `start` … `stop`-1; `open()` (on the worker) gives a source whose entry indices are the whole pass's."""

    start: int
    stop: int

    def open(self) -> ImageSource:
        raise NotImplementedError


@dataclass
class BuiltinShard(Shard):
    name: str

    def open(self) -> ImageSource:
        return open_source(self.name)  # cached per worker process


@dataclass
class FolderShard(Shard):
    """Files read where they lie; each must have the size the driver saw (else this node sees another folder)."""

    root: str
    files: list[str]
    sizes: list[int | None]

    def open(self) -> ImageSource:
        paths = [Path(f) for f in self.files]
        if _sizes(paths) != self.sizes:
            raise FeaturelensError(f"the Ray worker on {socket.gethostname()} does not see the driver's files in {self.root}: "
                                   "put the data on storage every node mounts at the same path, or run from a machine that "
                                   "does not share it (then it is shipped)")
        return OffsetSource(FolderSource(Path(self.root), paths, workers=1), self.start)


@dataclass
class BytesShard(Shard):
    """Files shipped from the driver: their bytes (or why the driver could not read them)."""

    keys: list[str]
    contents: list

    def open(self) -> ImageSource:
        return OffsetSource(FileBytesSource(self.keys, self.contents, workers=1), self.start)


@dataclass
class TensorShard(Shard):
    images: torch.Tensor

    def open(self) -> ImageSource:
        return OffsetSource(TensorSource(self.images, "tensor"), self.start)


class OffsetSource(ImageSource):
    """A shard's own source seen at the shard's place in the whole pass: its entry i is entry `offset` + i."""

    def __init__(self, inner: ImageSource, offset: int):
        self.inner, self.offset, self.name = inner, offset, inner.name

    def __len__(self) -> int:
        return self.offset + len(self.inner)

    def image(self, index: int, channels: int, size: int) -> torch.Tensor:
        return self.inner.image(index - self.offset, channels, size)

    def batches(self, start: int, stop: int | None, batch_size: int, channels: int, size: int) -> Iterator[SourceBatch]:
        for batch in self.inner.batches(start - self.offset, None if stop is None else stop - self.offset, batch_size, channels, size):
            yield SourceBatch(batch.images, batch.indices + self.offset, batch.end + self.offset, batch.skipped)

    def close(self) -> None:
        self.inner.close()


def folder_seen_by_workers(source: FolderSource) -> bool:
    """Whether every other node with CPUs sees the driver's folder (a sample of its files, same sizes) at the same path."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    here = None if ray.util.client.ray.is_connected() else ray.get_runtime_context().get_node_id()
    nodes = [n["NodeID"] for n in ray.nodes() if n["Alive"] and n["NodeID"] != here and n["Resources"].get("CPU", 0) > 0]
    if not nodes:
        return True
    picked = sorted({0, len(source.files) // 2, len(source.files) - 1})
    sample = [os.path.abspath(source.files[i]) for i in picked]
    probe = ray.remote(_sizes_of)
    answers = [probe.options(num_cpus=0, scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=False)).remote(sample)
               for node in nodes]
    expected = _sizes([source.files[i] for i in picked])
    return all(found == expected for found in ray.get(answers))


def _sizes_of(files: list[str]) -> list[int | None]:
    return _sizes([Path(f) for f in files])


def _sizes(paths: list[Path]) -> list[int | None]:
    sizes = []
    for path in paths:
        try:
            sizes.append(path.stat().st_size)
        except OSError:
            sizes.append(None)
    return sizes
