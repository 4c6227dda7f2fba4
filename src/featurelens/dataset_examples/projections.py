"""Projections of each unit's top examples (Zeiler & Fergus 2014, Figure 2): the pixels behind each activation.

Every example is projected from the very position that ranked it. Examples are grouped by input:
each input runs forward once for all its units in every layer, and its units get one backward pass
each, batched across `batch_size` inputs, so memory follows the batch and not the dataset.
"""

from __future__ import annotations

import numpy as np
import torch

from featurelens.dataset_examples.result import ExampleKey, ExamplesResult
from featurelens.models import LoadedModel
from featurelens.progress import ProgressArg, reporting
from featurelens.projection.backproject import backproject


def example_projections(
    model: LoadedModel,
    result: ExamplesResult,
    method: str = "deconvnet",
    kinds: tuple[str, ...] = ("max",),
    batch_size: int = 16,
    progress: ProgressArg = None,
) -> dict[ExampleKey, np.ndarray]:
    """Raw projections [C, H, W] (float32, model input space) of every example of `kinds`, keyed like the table rows."""
    rows = [row for row in result.examples() if row.kind in kinds]
    by_input: dict[int, list] = {}
    for row in rows:
        by_input.setdefault(row.index, []).append(row)
    inputs = sorted(by_input, key=lambda index: -len(by_input[index]))  # inputs with as many units share a batch
    projections: dict[ExampleKey, np.ndarray] = {}
    with reporting(progress, f"projecting {len(rows)} example(s)", rate_unit="projections") as report:
        done = 0

        def advance(count: int) -> None:
            nonlocal done
            done += count
            report.update(done, len(rows))

        for start in range(0, len(inputs), batch_size):
            chunk = inputs[start:start + batch_size]
            images = torch.stack([torch.from_numpy(result.image(index)).permute(2, 0, 1).float() / 255 for index in chunk])
            local = {index: i for i, index in enumerate(chunk)}
            members = [row for index in chunk for row in by_input[index]]
            found = backproject(
                model.module, model.normalize(images.to(model.device)), [row.layer for row in members],
                torch.tensor([row.channel for row in members]), torch.tensor([[row.y, row.x] for row in members]),
                method, torch.tensor([local[row.index] for row in members]), on_pass=advance,
            )
            arrays = found.inputs_grad.float().cpu().numpy()
            for row, array in zip(members, arrays):
                projections[(row.layer, row.channel, row.kind, row.rank)] = array
    return projections
