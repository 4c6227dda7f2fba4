"""Projections of each unit's top examples (Zeiler & Fergus 2014, Figure 2): the pixels behind each activation.

Every example is projected from the very position that ranked it, through `project_batch`, one
batch of examples per forward/backward.
"""

from __future__ import annotations

from itertools import groupby

import numpy as np
import torch

from featurelens.examples.result import ExamplesResult
from featurelens.models import LoadedModel
from featurelens.project.backproject import project_batch

ExampleKey = tuple[str, int, str, int]  # (layer, channel, kind, rank from 1)


def example_projections(
    model: LoadedModel,
    result: ExamplesResult,
    method: str = "deconvnet",
    kinds: tuple[str, ...] = ("max",),
    batch_size: int = 64,
) -> dict[ExampleKey, np.ndarray]:
    """Raw projections [C, H, W] (float32, model input space) of every example of `kinds`, keyed like the table rows."""
    rows = [row for row in result.examples() if row.kind in kinds]
    projections: dict[ExampleKey, np.ndarray] = {}
    for layer, layer_rows in groupby(rows, key=lambda row: row.layer):
        layer_rows = list(layer_rows)
        for start in range(0, len(layer_rows), batch_size):
            chunk = layer_rows[start:start + batch_size]
            images = torch.stack([
                torch.from_numpy(result.image(row.index)).permute(2, 0, 1).float() / 255 for row in chunk
            ])
            positions = torch.tensor([[row.y, row.x] for row in chunk])
            arrays = project_batch(model, images, layer, [row.channel for row in chunk], positions, method)
            for row, array in zip(chunk, arrays):
                projections[(row.layer, row.channel, row.kind, row.rank)] = array
    return projections
