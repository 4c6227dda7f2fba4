"""A layer's activations at every position, streamed from a data source as shuffled batches of rows.

Each input batch runs through the model to the layer and becomes rows of its channels (`rows.forward_rows`: one row
per image and position), here or on Ray workers (`on_ray`). Rows go into a `ShuffleBuffer` of bounded size: when the
next input batch would not fit, the buffer is shuffled and half of it leaves as training batches. Activations are
never all in memory: at most the buffer's `capacity` rows, plus the input batch being read. The order depends only on
the seed, and is pinned (tests/dictionary/test_stream.py): the shipped dictionary is retrained from it byte for byte.
"""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass, field
from typing import Iterator

import torch

from featurelens.data.sources import ImageSource
from featurelens.dictionary.rows import forward_rows
from featurelens.engine import Engine
from featurelens.errors import FeaturelensError
from featurelens.models import LoadedModel


class ShuffleBuffer:
    """At most `capacity` rows of `channels`; `shuffled_half()` hands out a random half of what it holds, by slot.

    Rows never move once added: `slots[:held]` says where each row held lies in `rows`, in the buffer's order, and
    `slots[held:]` are free. Handing out reorders slot numbers only, as a buffer closing its gaps would move rows (the
    kept rows past the new end into the holes before it): the order, hence every seed's stream, is that buffer's."""

    def __init__(self, capacity: int, channels: int, generator: torch.Generator, device: torch.device | str = "cpu"):
        self.capacity = capacity
        self.rows = torch.empty(capacity, channels, device=device)
        self.slots = torch.arange(capacity, device=device)
        self.held = 0
        self.most_held = 0  # the largest number of rows it ever held (tests check the bound)
        self.generator = generator

    def room(self) -> int:
        return self.capacity - self.held

    def add(self, rows: torch.Tensor) -> None:
        if len(rows) > self.room():
            raise ValueError(f"{len(rows)} rows do not fit: the buffer has room for {self.room()}")
        slots = self.slots[self.held:self.held + len(rows)]
        if self.rows.is_cpu:  # NumPy copies each row with one memcpy: 2–3× torch's index_copy_ on CPU
            self.rows.numpy()[slots.numpy()] = rows.to(self.rows.dtype).numpy()
        else:
            self.rows.index_copy_(0, slots, rows)
        self.held += len(rows)
        self.most_held = max(self.most_held, self.held)

    def take(self, slots: torch.Tensor) -> torch.Tensor:
        """A copy of the rows at `slots`, in that order."""
        if self.rows.is_cpu:
            return torch.from_numpy(self.rows.numpy().take(slots.numpy(), axis=0))
        return self.rows.index_select(0, slots)

    def shuffled_half(self, multiple: int) -> torch.Tensor:
        """The slots of a random half of the rows held (rounded down to `multiple`, at least `multiple` when that many
        are held; all of them when fewer), in random order. They are free from now on: read them before the next `add`."""
        order = torch.randperm(self.held, generator=self.generator).to(self.slots.device)
        count = self.held if self.held < multiple else max(multiple, (self.held // 2) // multiple * multiple)
        held = self.slots[:self.held]
        taken = held[order[:count]]
        gone = torch.zeros(self.held, dtype=torch.bool, device=held.device)
        gone[order[:count]] = True
        kept = self.held - count  # close the gaps: kept slots past the new end move into the holes before it
        held[gone[:kept].nonzero().squeeze(1)] = held[kept + (~gone[kept:]).nonzero().squeeze(1)]
        held[kept:] = taken.sort().values  # the freed slots, in memory order: the next rows are written front to back
        self.held = kept
        return taken


@dataclass
class RowStream:
    """Shuffled batches of `batch_rows` rows of `layer` over `source`, read `passes` times (None: without end).

    `engine` "ray" runs the forward passes on Ray workers (`on_ray`) and shuffles their rows here in the same
    order: the same batches, byte for byte, wherever a worker's forward (one thread) gives the floats this process's does."""

    model: LoadedModel
    layer: str
    source: ImageSource
    size: int
    batch_rows: int
    capacity: int
    images_per_forward: int
    seed: int
    passes: int | None = 1
    limit: int | None = None
    engine: Engine = field(default_factory=Engine)
    model_spec: str | None = None  # what Ray workers load (None: the model travels pickled)
    buffer: ShuffleBuffer | None = None  # the last iteration's, for its figures

    def __iter__(self) -> Iterator[torch.Tensor]:
        generator = torch.Generator().manual_seed(self.seed)
        self.buffer = None
        with closing(self._forwards()) as forwards:
            for rows in forwards:
                if self.buffer is None:
                    self._check_fits(len(rows))
                    self.buffer = ShuffleBuffer(self.capacity, rows.shape[1], generator, rows.device)
                while self.buffer.room() < len(rows):
                    yield from self._batches(self.buffer.shuffled_half(self.batch_rows))
                self.buffer.add(rows)
                del rows  # freed before the next forward, as in a plain loop
        while self.buffer is not None and self.buffer.held:
            yield from self._batches(self.buffer.shuffled_half(self.batch_rows))

    def _forwards(self) -> Iterator[torch.Tensor]:
        """Every forward pass's rows, pass after pass."""
        if self.engine.is_ray:
            from featurelens.dictionary.on_ray import ray_forward_rows  # Ray only when asked for
            passes = ray_forward_rows(self.engine, self.model, self.model_spec, self.layer, self.source, self.limit,
                                      self.images_per_forward, self.size)
        else:
            passes = lambda: forward_rows(self.model, self.layer, self.source, 0, self.limit, self.images_per_forward, self.size)  # noqa: E731
        done = 0
        while self.passes is None or done < self.passes:
            with closing(passes()) as rows:
                yield from rows
            done += 1

    def _batches(self, slots: torch.Tensor) -> Iterator[torch.Tensor]:
        """Whole batches of the rows at `slots`, each gathered as it is asked for (all before the buffer's next `add`)."""
        for start in range(0, len(slots) - self.batch_rows + 1, self.batch_rows):
            yield self.buffer.take(slots[start:start + self.batch_rows])

    def _check_fits(self, rows_per_forward: int) -> None:
        if self.capacity < max(2 * rows_per_forward, 2 * self.batch_rows):
            raise FeaturelensError(f"the shuffle buffer ({self.capacity} rows) must hold two forward passes ({rows_per_forward} rows each) "
                                   f"and two training batches ({self.batch_rows} rows): raise {{parameter}}", parameter="buffer_rows")
