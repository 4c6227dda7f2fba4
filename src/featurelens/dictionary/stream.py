"""A layer's activations at every position, streamed from a data source as shuffled batches of rows.

Each input batch runs through the model (`ActivationCapture`, stopping at the layer) and its canonical activations
`[N, C, *positions]` become rows of C (one per image and position: grid cell or token; extra tokens such as a class
token are left out). Rows go into a `ShuffleBuffer` of bounded size: when the next input batch would not fit, the
buffer is shuffled and half of it leaves as training batches. Activations are never all in memory: at most the
buffer's `capacity` rows, plus the input batch being read. The order depends only on the seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import torch

from featurelens.capture import ActivationCapture
from featurelens.data.sources import ImageSource
from featurelens.errors import FeaturelensError
from featurelens.models import LoadedModel


def layer_rows(activations: torch.Tensor) -> torch.Tensor:
    """Canonical activations `[N, C, *positions]` → rows `[N × positions, C]`."""
    if activations.dim() == 2:
        return activations
    return activations.movedim(1, -1).reshape(-1, activations.shape[1])  # a view when the map is channels-last, as captures are


class ShuffleBuffer:
    """At most `capacity` rows of `channels`; `shuffled_half()` hands out a random half of what it holds."""

    def __init__(self, capacity: int, channels: int, generator: torch.Generator, device: torch.device | str = "cpu"):
        self.capacity = capacity
        self.rows = torch.empty(capacity, channels, device=device)
        self.held = 0
        self.most_held = 0  # the largest number of rows it ever held (tests check the bound)
        self.generator = generator

    def room(self) -> int:
        return self.capacity - self.held

    def add(self, rows: torch.Tensor) -> None:
        if len(rows) > self.room():
            raise ValueError(f"{len(rows)} rows do not fit: the buffer has room for {self.room()}")
        self.rows[self.held:self.held + len(rows)] = rows
        self.held += len(rows)
        self.most_held = max(self.most_held, self.held)

    def shuffled_half(self, multiple: int) -> torch.Tensor:
        """A random half of the rows held (rounded down to `multiple`, at least `multiple` when that many are held;
        all of them when fewer), in random order; the rest stays at the front (only rows past it move)."""
        order = torch.randperm(self.held, generator=self.generator).to(self.rows.device)
        count = self.held if self.held < multiple else max(multiple, (self.held // 2) // multiple * multiple)
        taken = self.rows[order[:count]]
        gone = torch.zeros(self.held, dtype=torch.bool, device=self.rows.device)
        gone[order[:count]] = True
        kept = self.held - count  # close the gaps: kept rows past the new end move into the holes before it
        holes = gone[:kept].nonzero().squeeze(1)
        self.rows[holes] = self.rows[kept + (~gone[kept:]).nonzero().squeeze(1)]
        self.held = kept
        return taken


@dataclass
class RowStream:
    """Shuffled batches of `batch_rows` rows of `layer` over `source`, read `passes` times (None: without end)."""

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
    buffer: ShuffleBuffer | None = None  # the last iteration's, for its figures

    def __iter__(self) -> Iterator[torch.Tensor]:
        generator = torch.Generator().manual_seed(self.seed)
        channels = None
        done = 0
        with ActivationCapture(self.model.module, [self.layer]) as capture:  # no_grad per forward: grad mode is global, the trainer runs between yields
            while self.passes is None or done < self.passes:
                for rows in self._rows_of_a_pass(capture):
                    if self.buffer is None or channels is None:
                        channels = rows.shape[1]
                        self._check_fits(len(rows))
                        self.buffer = ShuffleBuffer(self.capacity, channels, generator, rows.device)
                    while self.buffer.room() < len(rows):
                        yield from self._batches(self.buffer.shuffled_half(self.batch_rows))
                    self.buffer.add(rows)
                done += 1
            while self.buffer is not None and self.buffer.held:
                yield from self._batches(self.buffer.shuffled_half(self.batch_rows))

    def _rows_of_a_pass(self, capture: ActivationCapture) -> Iterator[torch.Tensor]:
        for batch in self.source.batches(0, self.limit, self.images_per_forward, self.model.in_channels, self.size):
            if len(batch.indices):
                with torch.no_grad():
                    rows = layer_rows(capture.run(self.model.normalize(batch.images.to(self.model.device, non_blocking=True)))[self.layer])
                yield rows

    def _batches(self, rows: torch.Tensor) -> Iterator[torch.Tensor]:
        for start in range(0, len(rows) - self.batch_rows + 1, self.batch_rows):
            yield rows[start:start + self.batch_rows]

    def _check_fits(self, rows_per_forward: int) -> None:
        if self.capacity < max(2 * rows_per_forward, 2 * self.batch_rows):
            raise FeaturelensError(f"the shuffle buffer ({self.capacity} rows) must hold two forward passes ({rows_per_forward} rows each) "
                                   f"and two training batches ({self.batch_rows} rows): raise {{parameter}}", parameter="buffer_rows")
