"""Projections of each unit's top examples (Zeiler & Fergus 2014, Figure 2): the pixels behind each activation.

Every example is projected from the very position that ranked it. Examples are grouped by input:
each input runs forward once for all its units in every layer, and its units get one backward pass
each, batched across inputs with as many units (`projection_batches`), so memory follows the batch
and not the dataset.
"""

from __future__ import annotations

from typing import Collection, Mapping

import numpy as np
import torch

from featurelens.dataset_examples.result import ExamplesResult
from featurelens.dataset_examples.rows import ExampleKey
from featurelens.models import LoadedModel
from featurelens.progress import ProgressArg, reporting
from featurelens.projection.backproject import backproject, projection_batches
from featurelens.projection.pictures import projection_picture


def example_projections(
    model: LoadedModel,
    result: ExamplesResult,
    method: str = "deconvnet",
    kinds: tuple[str, ...] = ("max",),
    batch_size: int = 16,
    progress: ProgressArg = None,
    channels: Mapping[str, Collection[int]] | None = None,
) -> dict[ExampleKey, np.ndarray]:
    """The projection of every example of `kinds` as a picture (uint8 [h, w, C]: centred, scaled by its 99.5th
    percentile) cropped to the box its unit sees, keyed like the table rows. Raw arrays are dropped batch by batch.
    `channels` ({layer: channels}) projects only those channels' examples."""
    rows = [row for row in result.examples(channels) if row.kind in kinds]
    projections: dict[ExampleKey, np.ndarray] = {}
    with reporting(progress, f"projecting {len(rows)} example(s)", rate_unit="projections") as report:
        done = 0

        def advance(count: int) -> None:
            nonlocal done
            done += count
            report.update(done, len(rows))

        for chunk, numbers in projection_batches([row.index for row in rows], batch_size):
            images = torch.stack([torch.from_numpy(result.image(index)).permute(2, 0, 1).float() / 255 for index in chunk])
            local = {index: i for i, index in enumerate(chunk)}
            members = [rows[n] for n in numbers]
            found = backproject(
                model.module, model.normalize(images.to(model.device)), [row.layer for row in members],
                torch.tensor([row.channel for row in members]), torch.tensor([[row.y, row.x] for row in members]),
                method, torch.tensor([local[row.index] for row in members]), on_pass=advance,
            )
            arrays = found.inputs_grad.float().cpu().numpy()
            for row, array in zip(members, arrays):
                x0, y0, x1, y1 = row.box
                projections[(row.layer, row.channel, row.kind, row.rank)] = projection_picture(array)[y0:y1, x0:x1].copy()
    return projections
