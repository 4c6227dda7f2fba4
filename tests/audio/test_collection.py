"""The rendered collection: real audio, complete labels, deterministic for a seed, resumable, failures counted."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest
import soundfile

from featurelens.audio import collection as collection_module
from featurelens.audio.collection import TARGET_RMS, make_collection, read_labels
from featurelens.audio.instruments import FAMILIES, NO_LABEL, register_of
from featurelens.errors import FeaturelensError


def _digests(folder) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (folder / "clips").glob("*.wav")}


def test_clips_are_real_labelled_audio(small_collection, small_labels):
    assert small_collection.clips == len(small_labels) == 280
    assert set(small_labels["family"].to_pylist()) == set(FAMILIES)
    assert len(set(small_labels["collection"].to_pylist())) >= 4
    assert set(small_labels["mode"].to_pylist()) == {"major", "minor", NO_LABEL}
    for row in small_labels.slice(0, 40).to_pylist():
        audio, rate = soundfile.read(small_collection.folder / row["path"], dtype="float32")
        assert rate == 16000 and audio.shape == (48000,)  # mono, exactly 3 s
        assert math.isclose(np.sqrt(np.mean(audio ** 2)), TARGET_RMS, rel_tol=0.15) or np.abs(audio).max() > 0.95
        assert row["tempo"] >= 60 and row["tempo"] <= 180 and row["density"] > 0
        if row["family"] == "drums":
            assert row["register"] == NO_LABEL and row["mode"] == NO_LABEL
        else:
            assert row["register"] == register_of(row["median_pitch"])
    # Each song's clips are played by distinct families: the song does not give the instrument away.
    by_song = {}
    for row in small_labels.to_pylist():
        by_song.setdefault(row["song"], []).append(row["family"])
    assert all(len(set(families)) == len(families) for families in by_song.values())


def test_same_seed_same_bytes_and_resume(tmp_path):
    ticks = []
    fresh = make_collection(tmp_path / "fresh", clips=12, seed=5,
                            progress=lambda done, total: ticks.append((done, total)))
    assert (fresh.made, fresh.reused, fresh.clips) == (12, 0, 12)
    assert ticks[0] == (0, 12) and ticks[-1] == (12, 12) and [d for d, _ in ticks] == sorted(d for d, _ in ticks)
    # Interrupted after 5 clips, then finished: the same clips, byte for byte.
    make_collection(tmp_path / "resumed", clips=5, seed=5)
    resumed = make_collection(tmp_path / "resumed", clips=12, seed=5)
    assert (resumed.made, resumed.reused) == (7, 5)
    assert _digests(tmp_path / "fresh") == _digests(tmp_path / "resumed")
    assert repr(read_labels(tmp_path / "fresh").to_pylist()) == repr(read_labels(tmp_path / "resumed").to_pylist())
    again = make_collection(tmp_path / "fresh", clips=12, seed=5)
    assert again.made == 0 and again.reused == 12
    make_collection(tmp_path / "other", clips=4, seed=6)
    assert set(_digests(tmp_path / "other").values()).isdisjoint(_digests(tmp_path / "fresh").values())
    with pytest.raises(FeaturelensError, match="same settings"):
        make_collection(tmp_path / "fresh", clips=12, seed=5, seconds=2.0)


def test_songs_that_fail_to_export_are_skipped_and_counted(tmp_path, monkeypatch):
    real = collection_module.load_tune
    calls = {"n": 0}

    def flaky(ref):
        calls["n"] += 1
        if calls["n"] % 2 == 1:
            raise ValueError("TimeSignature 3/4 already found")  # what some ABC tunes raise in music21
        return real(ref)

    monkeypatch.setattr(collection_module, "load_tune", flaky)
    made = make_collection(tmp_path, clips=8, seed=3)
    assert made.clips == 8 and made.failed_songs == 2
    # A rerun neither re-reads the failed songs nor loses the count.
    again = make_collection(tmp_path, clips=8, seed=3)
    assert again.failed_songs == 2 and again.made == 0
