"""A layer's activations as rows: one per input and position, from forward passes over a data source.

Canonical activations `[N, C, *positions]` become rows of C (one per image and position: grid cell or token; extra
tokens such as a class token are left out). `forward_rows` is the one loop that makes them, for the local stream and
for each Ray worker's shard, so both give the same bytes.
"""

from __future__ import annotations

from typing import Callable, Iterator

import torch

from featurelens.capture import ActivationCapture
from featurelens.data.sources import ImageSource
from featurelens.models import LoadedModel


def layer_rows(activations: torch.Tensor) -> torch.Tensor:
    """Canonical activations `[N, C, *positions]` → rows `[N × positions, C]`."""
    if activations.dim() == 2:
        return activations
    return activations.movedim(1, -1).reshape(-1, activations.shape[1])  # a view when the map is channels-last, as captures are


def forward_rows(model: LoadedModel, layer: str, source: ImageSource, start: int, stop: int | None, images_per_forward: int,
                 size: int, progress: Callable[[int], None] | None = None) -> Iterator[torch.Tensor]:
    """Rows of `layer` for each forward pass of `images_per_forward` entries over `start` … `stop`-1 of `source`, in
    order (the local stream's pass, or a Ray worker's shard of it); `progress(entries done)` after each."""
    with ActivationCapture(model.module, [layer]) as capture:
        for batch in source.batches(start, stop, images_per_forward, model.in_channels, size):
            if len(batch.indices):
                with torch.no_grad():  # not around the yield: grad mode is global, and the trainer runs between yields
                    rows = layer_rows(capture.run(model.normalize(batch.images.to(model.device, non_blocking=True)))[layer])
                yield rows
                del rows  # freed before the next forward, as in a plain loop
            if progress is not None:
                progress(batch.end - start)
