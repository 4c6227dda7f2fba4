"""`DoneEntries`: what a pass has finished, a prefix (images, read in order) and the entries done beyond it (clips)."""

from __future__ import annotations

from featurelens.dataset_examples.entries import DoneEntries


def test_entries_done_out_of_order_fold_into_the_prefix_once_the_gap_closes() -> None:
    done = DoneEntries().adding([0, 1, 4, 5])
    assert done == DoneEntries(2, frozenset({4, 5})) and len(done) == 4
    assert 1 in done and 4 in done and 2 not in done and 6 not in done
    assert done.adding([3, 2]) == DoneEntries(6)


def test_a_prefix_passes_entries_done_beyond_it_and_reads_back() -> None:
    done = DoneEntries(2, frozenset({4, 9}))
    assert done.through(5) == DoneEntries(5, frozenset({9}))
    assert done.through(1) == done  # a prefix never shrinks
    assert DoneEntries.from_dict(done.to_dict()) == done and done.to_dict() == {"prefix": 2, "beyond": [4, 9]}
