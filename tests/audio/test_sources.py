"""A user's audio folder: every awkward file handled one clear way and reported; nothing silently lost."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile

from featurelens.audio.network import MusicCNN, min_frames
from featurelens.audio.sources import load_audio_folder
from featurelens.errors import FeaturelensError

MIN_SAMPLES = (min_frames(MusicCNN()) - 1) * 256


@pytest.fixture
def folder(tmp_path, small_collection, small_labels):
    """Real clips in every awkward form: 44.1 kHz stereo FLAC, 22.05 kHz OGG, MP3, silence, too short, broken."""
    clip = soundfile.read(small_collection.folder / small_labels["path"][0].as_py(), dtype="float32")[0]
    from featurelens.audio.sources import resample

    (tmp_path / "sub").mkdir()
    soundfile.write(tmp_path / "plain.wav", clip, 16000)
    stereo = np.stack([resample(clip, 16000, 44100), 0.5 * resample(clip, 16000, 44100)], axis=1)
    soundfile.write(tmp_path / "sub/stereo.flac", stereo, 44100)
    soundfile.write(tmp_path / "sub/low.ogg", resample(clip, 16000, 22050), 22050)
    soundfile.write(tmp_path / "coded.mp3", resample(clip, 16000, 44100), 44100)
    soundfile.write(tmp_path / "silence.wav", np.zeros(16000, np.float32), 16000)
    soundfile.write(tmp_path / "short.wav", clip[24000:28000], 16000)
    (tmp_path / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really audio")
    (tmp_path / "notes.txt").write_text("not audio, not counted")
    return tmp_path, clip


def test_every_case_handled_and_reported(folder):
    path, clip = folder
    loaded = load_audio_folder(path, sample_rate=16000, min_samples=MIN_SAMPLES)
    assert loaded.files == 7
    assert loaded.items == ["coded", "plain", "short", "silence", "sub/low", "sub/stereo"]
    report = loaded.report
    assert [name for name, _ in report.unreadable] == ["broken.wav"]
    assert report.resampled == {22050: 1, 44100: 2}
    assert report.mixed_to_mono == ["sub/stereo.flac"]
    assert report.silent == ["silence.wav"] and report.padded == ["short.wav"]
    lines = report.lines(16000, MIN_SAMPLES)
    assert any("unreadable" in line and "broken.wav" in line for line in lines)
    assert "2 file(s) at 44100 Hz resampled to 16000 Hz" in lines
    by_item = {c.item: c for c in loaded.clips}
    assert len(by_item["short"].audio) == MIN_SAMPLES and by_item["short"].padded
    assert by_item["sub/stereo"].source_channels == 2 and by_item["sub/stereo"].source_rate == 44100
    # Resampled and mixed audio is still the same music: close to the original after the round trip.
    stereo = by_item["sub/stereo"].audio[: len(clip)]
    assert np.corrcoef(stereo, 0.75 * clip)[0, 1] > 0.99
    assert np.corrcoef(by_item["sub/low"].audio[: len(clip)], clip)[0, 1] > 0.99
    assert len(by_item["coded"].audio) >= len(clip) - 2000
    assert loaded.batch().shape == (6, MIN_SAMPLES)


def test_short_files_can_be_skipped_instead(folder):
    path, _ = folder
    loaded = load_audio_folder(path, min_samples=MIN_SAMPLES, short="skip")
    assert "short" not in loaded.items and loaded.report.skipped_short == ["short.wav"]
    assert any("skipped" in line for line in loaded.report.lines(16000, MIN_SAMPLES))


def test_padded_and_silent_clips_go_through_the_network(folder):
    import torch

    from featurelens.audio.network import load_music_cnn

    path, _ = folder
    model = load_music_cnn()
    loaded = load_audio_folder(path, sample_rate=model.sample_rate, min_samples=model.min_samples)
    for item in ("short", "silence"):
        audio = torch.from_numpy(next(c.audio for c in loaded.clips if c.item == item))
        assert torch.isfinite(model.predict(audio[None])).all()


def test_user_mistakes(tmp_path):
    with pytest.raises(FeaturelensError, match="not found"):
        load_audio_folder(tmp_path / "missing")
    with pytest.raises(FeaturelensError, match="no audio files"):
        load_audio_folder(tmp_path)
    with pytest.raises(FeaturelensError, match="'pad' or 'skip'"):
        load_audio_folder(tmp_path, short="trim")


def test_16_bit_files_read_exactly_as_libsndfile_scales_them(tmp_path):
    import soundfile

    from featurelens.audio.sources import read_audio

    noise = np.random.default_rng(0).uniform(-1, 1, (4000, 2)).astype(np.float32)
    soundfile.write(tmp_path / "a.wav", noise, 16000, subtype="PCM_16")
    data, rate, channels = read_audio(tmp_path / "a.wav")  # mixed to mono block by block, as libsndfile's whole read
    assert rate == 16000 and channels == 2 and data.dtype == np.float32
    np.testing.assert_array_equal(data, soundfile.read(tmp_path / "a.wav", dtype="float32", always_2d=True)[0].mean(axis=1))
