"""The row stream: every position of every input once per pass, shuffled, through a buffer that never holds more than its bound."""

from __future__ import annotations

import torch

from featurelens.capture import capture_activations
from featurelens.data.sources import open_source
from featurelens.dictionary.stream import RowStream, layer_rows


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
