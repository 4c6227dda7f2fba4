"""The log-mel front end matches librosa, is differentiable, and its inverse makes a spectrogram audible again."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile
import torch

from featurelens.audio.frontend import LogMel, log_mel_to_waveform, mel_filterbank

librosa = pytest.importorskip("librosa")


@pytest.fixture(scope="module")
def clips(small_collection, small_labels):
    """Six real clips: one per pitched family, and drums."""
    rows, seen = [], set()
    for row in small_labels.to_pylist():
        if row["family"] not in seen:
            seen.add(row["family"])
            rows.append(soundfile.read(small_collection.folder / row["path"], dtype="float32")[0])
    return np.stack(rows)


def test_filterbank_matches_librosa():
    for sample_rate, n_fft, n_mels, fmin, fmax in [(16000, 1024, 64, 0.0, 8000.0), (22050, 2048, 128, 30.0, 11025.0)]:
        ours = mel_filterbank(sample_rate, n_fft, n_mels, fmin, fmax)
        theirs = librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
        assert np.abs(ours - theirs).max() <= 1e-6 * np.abs(theirs).max()


def test_log_mel_matches_librosa(clips):
    frontend = LogMel()
    ours = frontend.mel(torch.from_numpy(clips)).numpy()
    theirs = np.stack([librosa.feature.melspectrogram(y=clip, sr=16000, n_fft=1024, hop_length=256, n_mels=64)
                       for clip in clips])
    assert ours.shape == theirs.shape == (len(clips), 64, frontend.frames(48000))
    assert np.abs(ours - theirs).max() <= 1e-6 * theirs.max()  # measured 2e-7
    log_ours = frontend(torch.from_numpy(clips)).numpy()
    assert np.abs(log_ours - np.log(theirs + frontend.floor)).max() < 1e-3  # float32 rounding, amplified near the floor


def test_differentiable_end_to_end():
    frontend = LogMel()
    waveform = (0.1 * torch.randn(2, 8000)).requires_grad_()  # not zeros: a zero waveform has zero gradient
    frontend(waveform)[:, 10].mean().backward()
    assert waveform.grad is not None and torch.isfinite(waveform.grad).all() and waveform.grad.abs().sum() > 0
    # Gradient check in float64 on a short input.
    small = LogMel(n_fft=64, hop_length=16, n_mels=8).double()
    x = torch.randn(1, 128, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda w: small(w), (x,), eps=1e-6, atol=1e-5)


def test_inverse_makes_the_spectrogram_audible(clips):
    frontend = LogMel()
    original = torch.from_numpy(clips)
    log_mel = frontend(original)
    rebuilt = log_mel_to_waveform(log_mel, frontend, iterations=48)
    assert rebuilt.shape == (len(clips), (log_mel.shape[-1] - 1) * 256)
    mel, again = frontend.mel(original), frontend.mel(rebuilt)
    convergence = ((again - mel).norm(dim=(1, 2)) / mel.norm(dim=(1, 2)))
    noise = frontend.mel(torch.randn_like(rebuilt) * 0.1)
    assert convergence.max() < 0.25, convergence  # measured 0.03-0.12
    assert (((noise - mel).norm(dim=(1, 2)) / mel.norm(dim=(1, 2))) > 0.9).all()
    # Unbatched input comes back unbatched.
    assert log_mel_to_waveform(log_mel[0], frontend, iterations=2).dim() == 1


def test_a_batch_runs_through_the_front_end_a_few_clips_at_a_time_with_the_same_result(music_cnn):
    audio = music_cnn.audio
    waveforms = torch.randn(40, audio.clip_samples, generator=torch.Generator().manual_seed(0)) * 0.1
    calls = []
    handle = audio.frontend.register_forward_hook(lambda module, args, out: calls.append(len(args[0])))
    try:
        batched = audio.spectrogram(waveforms)
    finally:
        handle.remove()
    assert len(calls) > 1 and sum(calls) == 40 and max(calls) < 40  # in parts, every clip once
    alone = torch.cat([audio.frontend(clip[None]) for clip in waveforms])
    torch.testing.assert_close(batched, alone, rtol=1e-5, atol=1e-5)
