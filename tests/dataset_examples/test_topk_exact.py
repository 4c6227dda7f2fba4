"""Streaming top-k / bottom-k equals a brute-force sort of a full activation dump, for any batch size."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from featurelens.capture import capture_activations
from featurelens.data.fashion_mnist import load_fashion_mnist
from featurelens.dataset_examples import collect_examples
from featurelens.dataset_examples.topk import StreamingTopK, rank_keys

LAYERS = ["relu1", "conv3"]
ITEMS = 512
K = 9


def activation_dump(model, batch_size: int) -> dict[str, torch.Tensor]:
    """All activations of the first 512 test images. Made with the run's batch size: CPU convolutions
    differ in the last bits between batch sizes (measured: up to 1e-5 at conv3), and the test is about the ranking."""
    images, _ = load_fashion_mnist("test")
    x = model.normalize(images[:ITEMS, None].float() / 255)
    parts = [capture_activations(model.module, x[i : i + batch_size], LAYERS) for i in range(0, ITEMS, batch_size)]
    return {layer: torch.cat([p[layer] for p in parts]) for layer in LAYERS}


def brute_force(act: torch.Tensor, reduce: str, kind: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(scores, items, flat positions) [C, K] by sorting every item: score (desc for max, asc for min), then item."""
    flat = act.flatten(2)
    if reduce == "mean":
        scores = flat.mean(2).numpy()
    else:
        scores = (flat.amax(2) if kind == "max" else flat.amin(2)).numpy()
    maps = flat.numpy()
    positions = maps.argmax(2) if kind == "max" else maps.argmin(2)  # numpy: first occurrence
    items = np.arange(len(scores))
    out_scores, out_items, out_pos = [], [], []
    for c in range(scores.shape[1]):
        primary = -scores[:, c] if kind == "max" else scores[:, c]
        order = np.lexsort((items, primary))[:K]  # last key sorts first
        out_scores.append(scores[order, c])
        out_items.append(order)
        out_pos.append(positions[order, c])
    return np.stack(out_scores), np.stack(out_items), np.stack(out_pos)


@pytest.mark.parametrize("batch_size", [1, 7, 64])
@pytest.mark.parametrize("reduce", ["max", "mean"])
def test_streaming_equals_brute_force(fashion, fashion_data, batch_size: int, reduce: str) -> None:
    result = collect_examples(fashion, "fashion-mnist:test", LAYERS, k=K, reduce=reduce, batch_size=batch_size, limit=ITEMS)
    dump = activation_dump(fashion, batch_size)
    assert result.items_seen == ITEMS
    for layer in LAYERS:
        examples = result.layer(layer)
        width = dump[layer].shape[3]
        for kind in ("max", "min"):
            scores, items, positions = brute_force(dump[layer], reduce, kind)
            got = examples.ranked[kind]
            np.testing.assert_array_equal(got.indices, items, err_msg=f"{layer} {kind} items")
            np.testing.assert_array_equal(got.scores, scores, err_msg=f"{layer} {kind} scores")
            np.testing.assert_array_equal(got.y * width + got.x, positions, err_msg=f"{layer} {kind} positions")


def test_relu_layer_ties_are_broken_by_item_index(fashion, fashion_data) -> None:
    """After a ReLU many inputs score exactly 0 for the bottom-k: they must be the lowest item indices."""
    result = collect_examples(fashion, "fashion-mnist:test", ["relu1"], k=K, batch_size=7, limit=ITEMS)
    bottom = result.layer("relu1").ranked["min"]
    tied = (bottom.scores == 0).all(axis=1)
    assert tied.any()
    for c in np.flatnonzero(tied):
        assert bottom.indices[c].tolist() == sorted(bottom.indices[c].tolist())


def test_keys_order_by_score_then_lower_index() -> None:
    scores = torch.tensor([float("nan"), float("-inf"), -3.5, -1e-40, -0.0, 0.0, 1e-40, 2.0, float("inf"), 2.0])
    keys = rank_keys(scores, torch.arange(10))
    assert keys.argsort(descending=True).tolist() == [8, 7, 9, 6, 4, 5, 3, 2, 0, 1]


def test_bottom_k_is_top_k_of_the_negated_map() -> None:
    torch.manual_seed(0)
    act = torch.randn(50, 4, 5, 6)
    table = StreamingTopK({"a": 4, "negated": 4}, 5, "max")
    for start in range(0, 50, 8):
        batch = act[start : start + 8]
        table.ranked = table.updated({"a": batch, "negated": -batch}, torch.arange(start, start + len(batch)))
    low, high = table.layer_ranked(table.ranked, "a")["min"], table.layer_ranked(table.ranked, "negated")["max"]
    assert torch.equal(low.indices, high.indices) and torch.equal(low.positions, high.positions)
    assert torch.equal(low.scores, -high.scores)


def test_fewer_items_than_k_keeps_them_all() -> None:
    act = torch.arange(3 * 2 * 4, dtype=torch.float32).view(3, 2, 2, 2)
    table = StreamingTopK({"a": 2}, 9, "max")
    table.ranked = table.updated({"a": act}, torch.arange(3))
    ranked = table.layer_ranked(table.ranked, "a")
    assert ranked["max"].indices.tolist() == [[2, 1, 0], [2, 1, 0]]
    assert ranked["max"].positions.tolist() == [[3, 3, 3], [3, 3, 3]]
    assert ranked["min"].positions.tolist() == [[0, 0, 0], [0, 0, 0]]
    assert ranked["min"].scores.tolist() == [[0.0, 8.0, 16.0], [4.0, 12.0, 20.0]]


def test_out_of_order_batches_with_ties_and_nans_rank_as_one_sort() -> None:
    """Batches skip rows whose best cannot reach the k-th kept; ties, NaN and -0.0 still rank exactly, even when a lower
    entry index arrives after a higher one (clips finish out of order)."""
    generator = torch.Generator().manual_seed(0)
    values = torch.tensor([float("nan"), float("-inf"), -1.0, -0.0, 0.0, 1.0, 2.0, float("inf")])
    act = values[torch.randint(len(values), (96, 3, 2, 2), generator=generator)]
    order = torch.randperm(96, generator=generator)
    table = StreamingTopK({"a": 3}, 5, "max")
    for start in range(0, 96, 8):
        chosen = order[start : start + 8]
        table.ranked = table.updated({"a": act[chosen]}, chosen)
    whole = StreamingTopK({"a": 3}, 5, "max")
    whole.ranked = whole.updated({"a": act}, torch.arange(96))
    for kind in ("max", "min"):
        streamed, at_once = table.layer_ranked(table.ranked, "a")[kind], whole.layer_ranked(whole.ranked, "a")[kind]
        assert torch.equal(streamed.indices, at_once.indices) and torch.equal(streamed.positions, at_once.positions)
        assert torch.equal(streamed.scores.nan_to_num(), at_once.scores.nan_to_num())
