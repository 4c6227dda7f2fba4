"""The network's front end: waveform → log-mel spectrogram in torch (differentiable), and the way back to sound.

Conventions match librosa (`librosa.feature.melspectrogram` with its defaults: centred frames, zero padding,
periodic Hann window, power 2, Slaney mel scale and area normalisation), so a spectrogram here equals
librosa's to float32 rounding. Log compression is `log(mel + floor)`: smooth everywhere, so gradients
reach even silent bins (a clamp would cut them off).
"""

from __future__ import annotations

import functools

import numpy as np
import torch
from torch import nn


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz, logarithmic above (librosa's `htk=False`)."""
    hz = np.asarray(hz, dtype=np.float64)
    linear = hz / (200.0 / 3)
    logstep = np.log(6.4) / 27.0
    return np.where(hz >= 1000.0, 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) / logstep, linear)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    logstep = np.log(6.4) / 27.0
    return np.where(mel >= 15.0, 1000.0 * np.exp(logstep * (mel - 15.0)), mel * (200.0 / 3))


@functools.lru_cache(maxsize=16)
def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """Slaney-normalised triangular mel filters [n_mels, n_fft // 2 + 1], float32, as `librosa.filters.mel`."""
    bins = np.linspace(0, sample_rate / 2, 1 + n_fft // 2)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(fmin), _hz_to_mel(fmax), n_mels + 2))
    widths = np.diff(edges)
    ramps = edges[:, None] - bins[None, :]
    rising = -ramps[:-2] / widths[:-1, None]
    falling = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]  # equal area per filter
    return weights.astype(np.float32)


class LogMel(nn.Module):
    """Waveform [B, samples] (or [samples]) → log-mel spectrogram [B, n_mels, frames], frames = samples // hop + 1."""

    def __init__(self, sample_rate: int = 16000, n_fft: int = 1024, hop_length: int = 256, n_mels: int = 64,
                 fmin: float = 0.0, fmax: float | None = None, floor: float = 1e-6) -> None:
        super().__init__()
        self.sample_rate, self.n_fft, self.hop_length, self.n_mels = sample_rate, n_fft, hop_length, n_mels
        self.fmin, self.fmax, self.floor = fmin, float(fmax or sample_rate / 2), floor
        self.register_buffer("window", torch.hann_window(n_fft, periodic=True), persistent=False)
        bank = mel_filterbank(sample_rate, n_fft, n_mels, fmin, self.fmax)
        self.register_buffer("filterbank", torch.from_numpy(bank), persistent=False)

    def frames(self, samples: int) -> int:
        """Number of spectrogram frames for a waveform of `samples`."""
        return samples // self.hop_length + 1

    def power(self, waveform: torch.Tensor) -> torch.Tensor:
        """Power spectrogram [B, n_fft // 2 + 1, frames]."""
        spectrum = torch.stft(waveform.reshape(-1, waveform.shape[-1]), self.n_fft, self.hop_length,
                              window=self.window, center=True, pad_mode="constant", return_complex=True)
        return spectrum.real.square() + spectrum.imag.square()

    def mel(self, waveform: torch.Tensor) -> torch.Tensor:
        """Mel power spectrogram [B, n_mels, frames] (librosa.feature.melspectrogram)."""
        return torch.matmul(self.filterbank, self.power(waveform))

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        return torch.log(self.mel(waveform) + self.floor)

    def extra_repr(self) -> str:
        return (f"sample_rate={self.sample_rate}, n_fft={self.n_fft}, hop_length={self.hop_length}, "
                f"n_mels={self.n_mels}, fmin={self.fmin}, fmax={self.fmax}, floor={self.floor}")


def mel_to_power(mel: torch.Tensor, filterbank: torch.Tensor, iterations: int = 200) -> torch.Tensor:
    """Non-negative least squares for the linear power spectrogram behind a mel one: [B, n_mels, T] → [B, n_freq, T].

    Starts from the clipped pseudo-inverse and refines it by multiplicative updates (Lee & Seung), which keep
    every bin non-negative and never increase ||filterbank · P − mel||².
    """
    target = filterbank.T @ mel
    power = torch.linalg.pinv(filterbank) @ mel
    power = power.clamp_min(0) + 1e-10 * mel.amax(dim=(-2, -1), keepdim=True).clamp_min(1e-12)
    for _ in range(iterations):
        power = power * target / (filterbank.T @ (filterbank @ power)).clamp_min(1e-20)  # cheaper than the Gram
    return power


def griffin_lim(magnitude: torch.Tensor, n_fft: int, hop_length: int, length: int | None = None,
                iterations: int = 64, momentum: float = 0.99, seed: int = 0) -> torch.Tensor:
    """Waveform [B, samples] whose STFT magnitude approaches `magnitude` [B, n_freq, T] (fast Griffin-Lim).

    Perraudin et al. 2013's accelerated update, as librosa.griffinlim; random initial phase from `seed`.
    """
    window = torch.hann_window(n_fft, periodic=True, dtype=magnitude.dtype, device=magnitude.device)
    generator = torch.Generator(device="cpu").manual_seed(seed)
    phase = torch.rand(magnitude.shape, generator=generator, dtype=magnitude.dtype) * (2 * torch.pi)
    angles = torch.polar(torch.ones_like(magnitude), phase.to(magnitude.device))
    previous = torch.zeros_like(angles)

    def istft(spectrum: torch.Tensor) -> torch.Tensor:
        return torch.istft(spectrum, n_fft, hop_length, window=window, center=True, length=length)

    for _ in range(iterations):
        rebuilt = torch.stft(istft(magnitude * angles), n_fft, hop_length, window=window, center=True,
                             pad_mode="constant", return_complex=True)
        angles = rebuilt - (momentum / (1 + momentum)) * previous
        angles = angles / (angles.abs() + 1e-16)
        previous = rebuilt
    return istft(magnitude * angles)


def log_mel_to_waveform(log_mel: torch.Tensor, frontend: LogMel, iterations: int = 64, seed: int = 0) -> torch.Tensor:
    """Make a log-mel spectrogram [B, n_mels, T] (or [n_mels, T]) audible: waveform [B, (T - 1) · hop].

    Undo the log (and its floor), recover linear power by non-negative least squares, then Griffin-Lim.
    """
    batched = log_mel if log_mel.dim() == 3 else log_mel.unsqueeze(0)
    with torch.no_grad():
        mel = (batched.exp() - frontend.floor).clamp_min(0)
        power = mel_to_power(mel.double(), frontend.filterbank.double()).to(batched.dtype)
        length = (batched.shape[-1] - 1) * frontend.hop_length
        waveform = griffin_lim(power.sqrt(), frontend.n_fft, frontend.hop_length, length, iterations, seed=seed)
    return waveform if log_mel.dim() == 3 else waveform[0]
