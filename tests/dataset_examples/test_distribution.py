"""The score distribution gathered in the examples pass: exact on a small source, a uniform sample beyond, one pass either way."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from featurelens.capture import capture_activations
from featurelens.data.fashion_mnist import load_fashion_mnist
from featurelens.dataset_examples import collect_examples
from featurelens.dataset_examples.distribution import ScoreSample

LIMIT = 300


def direct_scores(fashion, layer: str, reduce: str) -> np.ndarray:
    """[N, C]: each of the first LIMIT test images' score per channel, computed without the pass."""
    images, _ = load_fashion_mnist("test")
    x = fashion.normalize(images[:LIMIT, None].float() / 255)
    with torch.no_grad():
        act = capture_activations(fashion.module, x, [layer])[layer]
    flat = act.flatten(2) if act.dim() > 2 else act[:, :, None]
    return (flat.amax(2) if reduce == "max" else flat.mean(2)).numpy()


@pytest.mark.parametrize("reduce", ["max", "mean"])
def test_the_distribution_of_a_small_source_is_every_images_score(fashion, fashion_data, reduce) -> None:
    result = collect_examples(fashion, "fashion-mnist:test", ["conv2", "logit"], k=3, reduce=reduce, batch_size=64,
                              limit=LIMIT, distribution=LIMIT)
    for name in ("conv2", "logit"):
        expected = direct_scores(fashion, name, reduce)
        found = result.layer(name).distribution
        assert found.exact and found.count == LIMIT
        assert found.indices.tolist() == list(range(LIMIT))
        np.testing.assert_allclose(found.sample.T, expected, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(found.high, expected.max(0), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(found.low, expected.min(0), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(found.mean, expected.mean(0), rtol=1e-4, atol=1e-5)
        edges, counts = found.histogram(7, bins=16)
        assert edges[0] == pytest.approx(expected[:, 7].min(), rel=1e-5) and edges[-1] == pytest.approx(expected[:, 7].max(), rel=1e-5)
        assert counts.sum() == LIMIT
        np.testing.assert_array_equal(counts, np.histogram(found.sample[7], edges)[0])
        # the top-1 example's score is the distribution's maximum
        assert result.layer(name).ranked["max"].scores[7, 0] == pytest.approx(found.high[7], rel=1e-6)


def test_a_larger_source_keeps_a_uniform_sample_independent_of_the_batch_size(fashion, fashion_data) -> None:
    small = collect_examples(fashion, "fashion-mnist:test", ["conv3"], k=2, batch_size=50, limit=LIMIT, distribution=64)
    other = collect_examples(fashion, "fashion-mnist:test", ["conv3"], k=2, batch_size=17, limit=LIMIT, distribution=64)
    a, b = small.layer("conv3").distribution, other.layer("conv3").distribution
    assert not a.exact and a.count == LIMIT and len(a.indices) == 64
    np.testing.assert_array_equal(a.indices, b.indices)
    expected = direct_scores(fashion, "conv3", "max")
    np.testing.assert_allclose(a.sample.T, expected[a.indices], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(a.high, expected.max(0), rtol=1e-5, atol=1e-6)
    # spread over the whole source, not its first entries
    assert a.indices.max() > LIMIT * 0.75 and a.indices.min() < LIMIT * 0.25


def test_the_sample_is_the_lowest_priorities_however_the_entries_arrive() -> None:
    rows, size = 3, 10
    scores = torch.randn(100, rows)
    whole = ScoreSample.empty(rows, size).updated(scores, torch.arange(100))
    stepwise = ScoreSample.empty(rows, size)
    for order in torch.randperm(100, generator=torch.Generator().manual_seed(0)).split(7):
        stepwise = stepwise.updated(scores[order], order)
    assert sorted(whole.indices.tolist()) == sorted(stepwise.indices.tolist())
    assert whole.count == stepwise.count == 100
    torch.testing.assert_close(whole.high, scores.max(0).values)
    torch.testing.assert_close(stepwise.low, scores.min(0).values)
