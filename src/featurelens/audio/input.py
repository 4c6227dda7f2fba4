"""`AudioInput`: what an audio model's `LoadedModel` carries so every technique sees its spectrogram.

An audio model takes waveforms (mono, at `sample_rate`); its `frontend` turns them into the input the
network's module takes, [B, channels, frames]: a log-mel spectrogram for `music-cnn`, the normalised
1024-sample frames side by side for torchcrepe. Techniques run the front end once and work on that
input: positions along its last axis are frames, `hop_length` samples apart, each centred on its
sample and `window` samples wide.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

_FRONT_END_BYTES = 8 * 2**20  # a front-end call's complex spectrum stays near this size (a few clips)


@dataclass
class AudioInput:
    """Front end and conventions of an audio model: waveform [B, samples] → network input [B, channels, frames]."""

    frontend: nn.Module
    sample_rate: int
    clip_seconds: float  # the clip length the model was trained on: its default input
    hop_length: int  # samples between frames
    window: int  # samples a frame sees, centred on frame × hop_length
    channels: int  # rows of the network's input: mel bands, or the samples of a frame (torchcrepe)
    map_height: int = 1  # 1: the network convolves over time only ([B, C, T] maps); else its maps are [B, C, H, T]
    max_batch: int | None = None  # most clips a pass runs at once (a wide network's maps of 3 s clips fill gigabytes)

    @property
    def clip_samples(self) -> int:
        return int(round(self.clip_seconds * self.sample_rate))

    def frames(self, samples: int) -> int:
        """Frames of the front end's output for a waveform of `samples`."""
        return samples // self.hop_length + 1

    def spectrogram(self, waveform: torch.Tensor) -> torch.Tensor:
        """Waveform [B, samples] (or [samples]) → the network's input [B, channels, frames].

        Runs the front end a few clips at a time: a whole batch's spectrum (64 clips of 3 s: 50 MB) makes the
        allocator map fresh memory for every batch, which took 2× the arithmetic's time on CPU."""
        waveform = waveform.reshape(-1, waveform.shape[-1])
        clips = max(1, _FRONT_END_BYTES // (8 * (self.window // 2 + 1) * (waveform.shape[-1] // self.hop_length + 1)))
        if len(waveform) <= clips:
            return self.frontend(waveform)
        return torch.cat([self.frontend(part) for part in waveform.split(clips)])

    @property
    def makes_log_mel(self) -> bool:
        """Whether the front end's output is a log-mel spectrogram (music-cnn), not raw frames (torchcrepe)."""
        return hasattr(self.frontend, "filterbank")

    def log_mel(self, waveform: torch.Tensor) -> torch.Tensor:
        """A log-mel of waveform [B, samples] for people to look at: the front end's own, else 64 bands at 16 ms hops."""
        if self.makes_log_mel:
            return self.spectrogram(waveform)
        return self._display_log_mel().to(waveform.device)(waveform.reshape(-1, waveform.shape[-1]))

    def log_mel_frames(self, samples: int) -> int:
        """Frames of `log_mel` for a waveform of `samples`."""
        return self.frames(samples) if self.makes_log_mel else self._display_log_mel().frames(samples)

    def _display_log_mel(self) -> nn.Module:
        from featurelens.audio.frontend import LogMel  # only models without a log-mel front end need one

        if not hasattr(self, "_display"):
            self._display = LogMel(self.sample_rate)
        return self._display

    def dry_run_input(self, frames: int, device: torch.device | str) -> torch.Tensor:
        """A quiet input of `frames` frames for one dry run: [1, channels, frames]."""
        return torch.zeros((1, self.channels, frames), device=device)
