"""The row stream: every position of every input once per pass, shuffled, through a buffer that never holds more than its bound."""

from __future__ import annotations

import hashlib

import torch

from featurelens.capture import ActivationCapture, capture_activations
from featurelens.data.sources import open_source
from featurelens.dictionary.rows import layer_rows
from featurelens.dictionary.stream import RowStream


def test_the_buffer_stays_within_its_bound_and_hands_out_every_row_once_shuffled(fashion, one_thread) -> None:
    source = open_source("fashion-mnist:test")
    stream = RowStream(fashion, "conv3", source, 28, batch_rows=98, capacity=980, images_per_forward=8, seed=3, passes=1, limit=120)
    batches = list(stream)
    assert stream.buffer.most_held <= 980 and stream.buffer.most_held > 490
    rows = torch.cat(batches)
    assert all(len(batch) == 98 for batch in batches) and len(rows) == 120 * 49  # 5 880 rows: a whole number of batches

    images = source.batches(0, 120, 120, 1, 28).__next__().images
    expected = layer_rows(capture_activations(fashion.module, fashion.normalize(images), ["conv3"])["conv3"])
    assert not torch.equal(rows, expected)  # shuffled …
    assert torch.allclose(rows[rows[:, 0].argsort()], expected[expected[:, 0].argsort()], atol=1e-5)  # … the same rows

    again = torch.cat(list(RowStream(fashion, "conv3", source, 28, 98, 980, 8, seed=3, passes=1, limit=120)))
    assert torch.equal(rows, again)


def test_a_token_layer_streams_its_patch_tokens(one_thread) -> None:
    from featurelens import load_model

    vit = load_model("fashion-vit")
    stream = RowStream(vit, "blocks.2", open_source("fashion-mnist:test"), 28, batch_rows=49, capacity=49 * 8, images_per_forward=2,
                       seed=0, passes=1, limit=6)
    rows = torch.cat(list(stream))
    assert rows.shape == (6 * 49, 64)  # 7×7 patch tokens of 64 features; the class token is left out
    assert stream.buffer.most_held <= 49 * 8


def stream_order(model, source, limit: int, images_per_forward: int, passes: int, **stream) -> list[int]:
    """The stream's rows as indices into the unshuffled rows of every pass (each input batch's plain forward), checking
    on the way that every row it hands out is byte for byte one of them: the order alone, the same on any machine.
    Equal rows (blank corners) are interchangeable: each takes the first index of its bytes not yet taken."""
    with torch.no_grad(), ActivationCapture(model.module, ["conv3"]) as capture:
        rows = [layer_rows(capture.run(model.normalize(batch.images))["conv3"])
                for batch in source.batches(0, limit, images_per_forward, 1, 28)]
    indices: dict[bytes, list[int]] = {}
    for i, row in enumerate(torch.cat(rows * passes)):
        indices.setdefault(row.numpy().tobytes(), []).append(i)
    for found in indices.values():
        found.reverse()  # pop() takes the first
    streamed = RowStream(model, "conv3", source, 28, images_per_forward=images_per_forward, limit=limit, passes=passes, **stream)
    return [indices[row.numpy().tobytes()].pop() for row in torch.cat(list(streamed))]  # KeyError: a row no forward gave


def test_the_stream_hands_out_rows_in_the_order_pinned_for_its_seed(fashion, one_thread) -> None:
    """The shipped dictionary is retrained byte for byte from this stream: its order for a seed must never change."""
    source = open_source("fashion-mnist:test")
    orders = [stream_order(fashion, source, 120, 8, 2, batch_rows=98, capacity=980, seed=3),
              stream_order(fashion, source, 200, 7, 2, batch_rows=100, capacity=3000, seed=5)]
    assert [len(order) for order in orders] == [2 * 120 * 49, 2 * 200 * 49]
    # sha256 of each order, computed before the buffer handed batches out by index (issue #19)
    assert [hashlib.sha256(",".join(map(str, order)).encode()).hexdigest()[:16] for order in orders] == ["256c6c880b165c3d", "75b7db641b95684b"]
