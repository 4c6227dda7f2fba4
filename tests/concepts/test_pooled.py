"""Dropping negatives that are positives takes their crops with them; a chained source reads its parts in order."""

from __future__ import annotations

import numpy as np
import torch

from featurelens.concepts.inputs import ChainedSource
from featurelens.concepts.pooled import THUMB, PooledInputs, drop_repeats
from featurelens.data.sources import TensorSource


def pooled(values: list[float], crops_per_image: int, thumbs: torch.Tensor) -> PooledInputs:
    whole = np.array(values, np.float32)[:, None]
    crops = np.repeat(whole, crops_per_image, axis=0) + 0.5  # image i's crops follow image i-1's
    scores = {reduce: {"layer": np.concatenate([whole, crops])} for reduce in ("max", "mean")}
    return PooledInputs(scores, thumbs, len(values), len(values) * crops_per_image, names=[f"n{v:g}" for v in values])


def test_a_negative_that_is_a_positive_leaves_with_its_crops() -> None:
    thumbs = torch.rand(3, THUMB * THUMB, generator=torch.Generator().manual_seed(0))
    negatives = pooled([1.0, 2.0, 3.0], 2, thumbs)
    positives = pooled([9.0], 0, thumbs[1:2] + 0.001)  # the same picture as negative 2, nearly (a JPEG copy)
    kept, dropped = drop_repeats(negatives, positives)
    assert dropped == 1 and kept.whole == 2 and kept.crops == 4 and kept.names == ["n1", "n3"]
    assert kept.scores["max"]["layer"][:, 0].tolist() == [1.0, 3.0, 1.5, 1.5, 3.5, 3.5]


def test_a_chained_source_numbers_its_parts_one_after_the_other() -> None:
    first, second = TensorSource(torch.zeros(3, 1, 4, 4), "a"), TensorSource(torch.ones(2, 1, 4, 4), "b")
    chained = ChainedSource([first, second])
    batches = list(chained.batches(1, None, 2, 1, 4))
    assert [b.indices.tolist() for b in batches] == [[1, 2], [3, 4]]
    assert [float(b.images.mean()) for b in batches] == [0.0, 1.0]
    assert len(chained) == 5 and chained.key(4) == 1 and chained.name == "a, b"
