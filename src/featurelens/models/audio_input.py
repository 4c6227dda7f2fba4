"""`AudioInput`: what an audio model's `LoadedModel` carries so every technique sees its spectrogram.

An audio model takes waveforms (mono, at `sample_rate`); its `frontend` turns them into the input the
network's module takes (a log-mel spectrogram [B, mel bands, frames] for `music-cnn`). Techniques run
the front end once and work on that input: positions along its last axis are frames, `hop_length`
samples apart, each centred on its sample and `window` samples wide.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class AudioInput:
    """Front end and conventions of an audio model: waveform [B, samples] → network input [B, channels, frames]."""

    frontend: nn.Module
    sample_rate: int
    clip_seconds: float  # the clip length the model was trained on: its default input
    hop_length: int  # samples between frames
    window: int  # samples a frame sees, centred on frame × hop_length
    channels: int | None  # the spectrogram's bands (None: the network takes the waveform itself)

    @property
    def clip_samples(self) -> int:
        return int(round(self.clip_seconds * self.sample_rate))

    def frames(self, samples: int) -> int:
        """Frames of the front end's output for a waveform of `samples`."""
        return samples // self.hop_length + 1

    def frame_samples(self, first: int, stop: int) -> tuple[int, int]:
        """Samples [start, stop) that frames first … stop-1 see (before clipping to the clip)."""
        return first * self.hop_length - self.window // 2, (stop - 1) * self.hop_length + self.window - self.window // 2

    def spectrogram(self, waveform: torch.Tensor) -> torch.Tensor:
        """Waveform [B, samples] (or [samples]) → the network's input [B, channels, frames]."""
        return self.frontend(waveform.reshape(-1, waveform.shape[-1]))

    def dry_run_input(self, frames: int, device: torch.device | str) -> torch.Tensor:
        """A quiet spectrogram of `frames` frames for one dry run: [1, channels, frames] (or [1, frames])."""
        shape = (1, frames) if self.channels is None else (1, self.channels, frames)
        return torch.zeros(shape, device=device)
