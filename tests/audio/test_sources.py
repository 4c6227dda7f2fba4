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


def silence(path, seconds: float, rate: int, channels: int = 1, format: str = "FLAC") -> None:
    """`seconds` of silence written a minute at a time: FLAC keeps an hour in a few hundred kB."""
    with soundfile.SoundFile(path, "w", rate, channels, format=format) as out:
        minute = np.zeros((60 * rate, channels), np.int16)
        for _ in range(int(seconds // 60)):
            out.write(minute)
        out.write(minute[: int(seconds % 60 * rate)])


@pytest.fixture
def folder_with_bombs(tmp_path):
    """A real clip beside a 61-minute FLAC (a few hundred kB) and files at sample rates no sound has."""
    soundfile.write(tmp_path / "good.wav", np.sin(np.arange(16000) / 5).astype(np.float32) * 0.5, 16000)
    silence(tmp_path / "long.flac", 61 * 60, 8000)
    silence(tmp_path / "slow.wav", 2, 500, format="WAV")
    silence(tmp_path / "fast.wav", 0.1, 1_000_000, format="WAV")
    assert (tmp_path / "long.flac").stat().st_size < 2 << 20
    return tmp_path


def test_files_too_long_or_at_absurd_rates_are_skipped_before_decoding(folder_with_bombs, monkeypatch):
    import soundfile as sf

    asked = []
    read = sf.SoundFile.read

    def counting(self, frames=-1, *args, **kwargs):
        asked.append(frames)
        return read(self, frames, *args, **kwargs)

    monkeypatch.setattr(sf.SoundFile, "read", counting)
    loaded = load_audio_folder(folder_with_bombs, sample_rate=16000)
    assert loaded.items == ["good"] and loaded.files == 4
    reasons = dict(loaded.report.unreadable)
    assert reasons == {
        "fast.wav": "the file has a sample rate of 1000000 Hz, outside the 1000–384000 Hz allowed: resample it",
        "long.flac": "the file lasts 61 min, more than the 60 min allowed: cut it into shorter files",
        "slow.wav": "the file has a sample rate of 500 Hz, outside the 1000–384000 Hz allowed: resample it",
    }
    assert sum(asked) == 16000  # only the good file's samples were decoded
    assert any("3 unreadable file(s) skipped" in line for line in loaded.report.lines(16000, 0))
    # Reading only the start of long files is within the limit.
    start = load_audio_folder(folder_with_bombs, sample_rate=16000, max_seconds=10)
    assert start.items == ["good", "long"] and len(start.clips[1].audio) == 10 * 16000


def test_the_examples_source_skips_and_reports_a_long_file(folder_with_bombs):
    from featurelens.audio.clip_source import AudioSource

    source = AudioSource(folder_with_bombs, 16000, 4000)
    batches = list(source.batches(4))
    assert [source.item(int(i)) for batch in batches for i in batch.indices] == ["good"]
    assert source.failed() == {0, 2, 3}  # fast, long, slow
    assert "the file lasts 61 min" in dict(source.report.unreadable)["long.flac"]


def test_many_channels_are_mixed_block_by_block(tmp_path):
    from featurelens.audio.sources import read_audio

    noise = np.random.default_rng(1).uniform(-1, 1, (300_000, 6)).astype(np.float32)
    soundfile.write(tmp_path / "six.flac", noise, 48000, subtype="PCM_24")
    mono, rate, channels = read_audio(tmp_path / "six.flac")
    whole = soundfile.read(tmp_path / "six.flac", dtype="float32", always_2d=True)[0]
    assert (rate, channels) == (48000, 6) and mono.shape == (300_000,)
    np.testing.assert_array_equal(mono, whole.mean(axis=1))


def test_a_broken_file_reason_names_neither_its_path_nor_an_object(tmp_path):
    (tmp_path / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really audio")
    soundfile.write(tmp_path / "good.wav", np.zeros(1600, np.float32), 16000)
    (name, reason), = load_audio_folder(tmp_path).report.unreadable
    assert name == "broken.wav" and str(tmp_path) not in reason and "0x" not in reason and reason, reason
