"""`AudioModality`: how an audio model's inputs are read, sized, shown and heard (the `models.modality.Modality` of sound).

It lives with the audio model's own code and imports no model module: a `LoadedModel` is handed one by the audio
models' registration (`models.sound_networks`), and techniques read it through the `Modality` Protocol.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from featurelens.audio.input import AudioInput


@dataclass(frozen=True)
class AudioModality:
    """Sound: waveforms through the model's front end (`sound`), inputs `frames` wide, positions in time, the
    picture a log-mel spectrogram (heard as a .wav beside it)."""

    sound: AudioInput
    name: str = "audio"
    map_ranks: tuple[int, ...] = (2, 3)  # [C, T], or [C, H, T] for networks with 2-D maps
    map_noun: str = "map over time"
    normalizes: bool = False
    shown_at_other_sizes: bool = False
    projects: bool = False  # no deconvnet back onto a waveform: an example is its excerpt
    renders_diverse: bool = False  # a unit is heard as its max and its min sound
    takes_photos: bool = False
    shows_top_classes: bool = False  # the live page shows the sound's maps over time, not its classes

    @property
    def renders(self) -> bool:
        """Whether units can be grown: renders grow a log-mel, so a model without a log-mel front end (torchcrepe) has none."""
        return self.sound.makes_log_mel

    def to(self, device: torch.device | str) -> None:
        """Move the front end with the network."""
        self.sound.frontend.to(device)

    def input_pair(self, side: int) -> tuple[int, int]:
        """(rows, frames): one row for networks that convolve over time only, else the front end's map height."""
        return self.sound.map_height, side

    def size_label(self, height: int, width: int) -> str:
        """An input size as people say it: "188 frames (3.01 s)"."""
        seconds = (width - 1) * self.sound.hop_length / self.sound.sample_rate
        return f"{width} frames ({seconds:.2f} s)"

    def dry_run_input(self, height: int, width: int, channels: int, device: torch.device) -> torch.Tensor:
        """A quiet input of `width` frames."""
        return self.sound.dry_run_input(width, device)

    def data_spec(self, data: Any) -> str:
        """"music" (checked to be made; also what the image default "photos" means here) or a folder's absolute path."""
        from featurelens.audio.clip_source import audio_data_spec  # the audio readers load only when sound is read

        return audio_data_spec(data)

    def picture(self, item: np.ndarray) -> np.ndarray:
        """A log-mel [bands, frames] as a picture, uint8 [H, W, 3], low bands at the bottom."""
        from featurelens.output.spectrogram import spectrogram_picture

        return spectrogram_picture(item)

    def stored_data(self, data: str | Path) -> str:
        """A data source as an atlas stores it: "music" or a folder's absolute path, checked as `data_spec` checks it."""
        return self.data_spec(data)

    def input_facts(self) -> dict | None:
        """What a page says of the input besides its size: the rate it is heard at and the clip length, in seconds."""
        return {"sample_rate": self.sound.sample_rate, "clip_seconds": self.sound.clip_seconds}
