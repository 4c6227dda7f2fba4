"""Shards of an examples source: whole batches of the whole pass, and a worker that sees another folder refuses it."""

from __future__ import annotations

from pathlib import Path

import pytest

from featurelens.dataset_examples.shards import FolderShard, shard_ranges
from featurelens.errors import FeaturelensError


def test_shards_cover_the_range_in_whole_batches() -> None:
    ranges = shard_ranges(128, 10_000, 64, workers=2)
    assert ranges[0][0] == 128 and ranges[-1][1] == 10_000
    assert all(stop == next_start for (_, stop), (next_start, _) in zip(ranges, ranges[1:]))
    assert all((start - 128) % 64 == 0 for start, _ in ranges)  # every shard starts where a batch of the pass starts
    assert len(ranges) >= 8  # a few shards per worker
    assert shard_ranges(0, 10, 64, workers=4) == [(0, 10)]


def test_a_worker_that_sees_other_files_refuses_the_shard(tmp_path: Path) -> None:
    picture = tmp_path / "a.png"
    picture.write_bytes(b"12345")
    with pytest.raises(FeaturelensError, match="does not see the driver's files"):
        FolderShard(0, 1, str(tmp_path), [str(picture)], [4]).open()  # the driver saw 4 bytes, this node 5
    assert len(FolderShard(7, 8, str(tmp_path), [str(picture)], [5]).open()) == 8  # entry 7 of the pass
