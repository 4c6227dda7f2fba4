"""Rankings of separate ranges of entries merge into exactly the ranking of one pass (what the Ray engine relies on)."""

from __future__ import annotations

import math

import torch

from featurelens.dataset_examples.entries import DoneEntries
from featurelens.dataset_examples.ranges import merge_range, rank_range
from featurelens.dataset_examples.run import Finished, plan_pass, run_pass
from featurelens.dataset_examples.topk import Ranked, StreamingTopK, merge_ranked


def test_ranges_ranked_alone_then_merged_equal_one_pass(fashion, fashion_data) -> None:
    plan = plan_pass(fashion, "fashion-mnist:test", ["relu1", "conv3"], k=5, batch_size=32, limit=1000)
    whole = run_pass(plan)
    table = StreamingTopK(plan.channels, plan.k, plan.reduce)
    done = Finished(DoneEntries(), 0, [], Ranked.empty(table.rows))
    for start, stop in [(0, 320), (320, 352), (352, 1000)]:  # uneven ranges, each starting where a batch starts
        ranking = rank_range(plan.model, plan.shapes, plan.source, start, stop, plan.k, plan.reduce, plan.batch_size, plan.size)
        done = merge_range(done, ranking, plan.k)
    assert (done.entries, done.items_seen, done.batches) == (1000, 1000, 3)
    for layer in plan.layers:
        for kind, merged in table.layer_ranked(done.ranked, layer).items():
            single = whole.state.ranked[layer][kind]
            assert torch.equal(merged.scores, single.scores) and torch.equal(merged.indices, single.indices)
            assert torch.equal(merged.positions, single.positions)


def test_merging_breaks_ties_by_entry_and_ranks_nan_last_in_any_order() -> None:
    a = Ranked(torch.tensor([[1.0, 1.0]]), torch.tensor([[4, 9]]), torch.tensor([[0, 1]]))
    b = Ranked(torch.tensor([[1.0, math.nan]]), torch.tensor([[2, 7]]), torch.tensor([[3, 5]]))
    c = Ranked(torch.tensor([[-0.0]]), torch.tensor([[8]]), torch.tensor([[6]]))
    for parts in ([a, b, c], [c, b, a]):
        merged = merge_ranked(parts, 5)
        assert merged.indices.tolist() == [[2, 4, 9, 8, 7]] and merged.positions.tolist() == [[3, 0, 1, 6, 5]]
    assert merge_ranked([a, b, c], 2).indices.tolist() == [[2, 4]]
