"""Simulated listeners follow their tastes; WMF recovers them; users' own play counts and factors load cleanly."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from featurelens.audio.evaluate import ranking_scores, split_by_song
from featurelens.audio.factors import factorize, read_item_factors
from featurelens.audio.instruments import FAMILIES
from featurelens.audio.listeners import read_play_counts, simulate_listeners
from featurelens.errors import FeaturelensError


@pytest.fixture(scope="module")
def listeners(small_labels):
    return simulate_listeners(small_labels, listeners=400, seed=0)


def test_plays_follow_family_tastes(small_labels, listeners):
    plays = listeners.plays
    assert plays.items == small_labels["clip"].to_pylist() and len(plays.users) == 400
    assert (plays.plays >= 1).all() and np.array_equal(plays.plays, np.round(plays.plays))
    family = np.array([FAMILIES.index(f) for f in small_labels["family"].to_pylist()])
    favourite = listeners.family_taste.argmax(axis=1)
    share = np.mean([plays.plays[(plays.user == u) & (family[plays.item] == favourite[u])].sum()
                     / plays.plays[plays.user == u].sum() for u in range(400)])
    assert share > 0.45  # measured 0.72 against 1/7 ≈ 0.14 for indifferent listeners
    # Deterministic for a seed.
    again = simulate_listeners(small_labels, listeners=400, seed=0).plays
    assert np.array_equal(again.plays, plays.plays) and np.array_equal(again.item, plays.item)


def test_factorisation_ranks_what_was_played(listeners):
    plays = listeners.plays
    fit = factorize(plays, factors=16, alpha=10.0, seed=0)
    assert fit.user_factors.shape == (400, 16) and fit.item_factors.shape == (len(plays.items), 16)
    scores = ranking_scores("wmf", fit.user_factors @ fit.item_factors.T, plays.matrix(), k=10)
    assert scores.auc > 0.9 and scores.listeners > 350


def test_split_keeps_songs_apart(small_labels):
    train, test = split_by_song(small_labels, test_fraction=0.25, seed=1)
    songs = np.array(small_labels["song"].to_pylist())
    assert set(songs[train]).isdisjoint(songs[test]) and len(train) + len(test) == len(songs)
    assert 0.15 < len(test) / len(songs) < 0.35


def test_users_own_play_counts(tmp_path, listeners):
    listeners.plays.save(tmp_path / "plays.csv")
    read = read_play_counts(tmp_path / "plays.csv", items=listeners.plays.items)
    assert (read.matrix() != listeners.plays.matrix()).nnz == 0
    listeners.plays.save(tmp_path / "plays.parquet")
    assert read_play_counts(tmp_path / "plays.parquet").matrix().sum() == listeners.plays.matrix().sum()
    # Repeated rows add up; zero plays are dropped.
    table = pa.table({"user": ["a", "a", "b"], "item": ["x", "x", "y"], "plays": [2, 3, 0]})
    pq.write_table(table, tmp_path / "r.parquet")
    summed = read_play_counts(tmp_path / "r.parquet", items=["x", "y"])
    assert summed.users == ["a", "b"] and summed.matrix().toarray().tolist() == [[5.0, 0.0], [0.0, 0.0]]
    with pytest.raises(FeaturelensError, match="not in the audio"):
        read_play_counts(tmp_path / "r.parquet", items=["x"])
    pq.write_table(pa.table({"user": ["a"], "song": ["x"], "plays": [1]}), tmp_path / "bad.parquet")
    with pytest.raises(FeaturelensError, match="lacks column"):
        read_play_counts(tmp_path / "bad.parquet")


def test_item_factors_given_directly(tmp_path):
    pq.write_table(pa.table({"item": ["a", "b"], "f0": [0.5, -1.0], "f1": [2.0, 0.0]}), tmp_path / "f.parquet")
    items, values = read_item_factors(tmp_path / "f.parquet")
    assert items == ["a", "b"] and values.tolist() == [[0.5, 2.0], [-1.0, 0.0]]
    schema = pa.schema([("item", pa.string()), ("f0", pa.float64())])
    pq.write_table(pa.table({"item": ["a"], "f0": [None]}, schema=schema), tmp_path / "nan.parquet")
    with pytest.raises(FeaturelensError, match="missing"):
        read_item_factors(tmp_path / "nan.parquet")
