"""`Modality`: what differs between an image model and an audio model, as one small object a `LoadedModel` carries.

Techniques ask their model's modality instead of branching on the kind of model: how its inputs are sized and
described, what one dry run feeds it, where its data comes from, how an input is shown as a picture, what
positions mean (space or time), and which artefact beside the picture makes a result audible (a .wav).
Everything else (capture, units, ranking, writing) is shared.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from featurelens.models.audio_input import AudioInput
from featurelens.output.sound import write_wav


class Modality(Protocol):
    """The questions techniques ask of a model's kind of input (see `ImageModality`, `AudioModality`)."""

    name: str  # "image" or "audio": also what render.json and the server report
    positions: str  # what a map's positions are: "space" (rows, columns) or "time" (frames)
    normalizes: bool  # whether inputs go through the model's mean/std (images do; a spectrogram enters as it is)
    shown_at_other_sizes: bool  # whether a finished input is also judged at other sides (images shown at 128 px)
    sound: AudioInput | None  # the front end and conventions of an audio model's input (None for images)

    def to(self, device: torch.device | str) -> None: ...

    def input_pair(self, side: int) -> tuple[int, int]: ...

    def size_label(self, height: int, width: int) -> str: ...

    def dry_run_input(self, height: int, width: int, channels: int, device: torch.device) -> torch.Tensor: ...

    def data_spec(self, data: Any) -> str: ...

    def picture(self, item: np.ndarray) -> np.ndarray: ...

    def artefact_suffix(self) -> str | None: ...

    def write_artefact(self, path: Path, artefact: np.ndarray) -> None: ...


@dataclass(frozen=True)
class ImageModality:
    """Images: [B, C, H, W] floats in [0, 1], square inputs, positions in space, the picture is the image itself."""

    name: str = "image"
    positions: str = "space"
    normalizes: bool = True
    shown_at_other_sizes: bool = True
    sound: AudioInput | None = None

    def to(self, device: torch.device | str) -> None:
        """Nothing to move: an image enters the module as it is (normalised by the model)."""

    def input_pair(self, side: int) -> tuple[int, int]:
        """(height, width) of a square input of `side` px."""
        return side, side

    def size_label(self, height: int, width: int) -> str:
        """An input size as people say it: "224×224"."""
        return f"{height}×{width}"

    def dry_run_input(self, height: int, width: int, channels: int, device: torch.device) -> torch.Tensor:
        """A grey image in [0, 1] (the model normalises it)."""
        return torch.full((1, channels, height, width), 0.5, device=device)

    def data_spec(self, data: Any) -> str:
        """An image source as passed on, checked to open (a built-in name, a folder, a file)."""
        from featurelens.data.sources import open_source  # the image readers load only when images are read

        open_source(data).close()
        return str(data)

    def picture(self, item: np.ndarray) -> np.ndarray:
        """The image itself, uint8 [H, W, C]."""
        return item

    def artefact_suffix(self) -> str | None:
        """Images need nothing beside their picture."""
        return None

    def write_artefact(self, path: Path, artefact: np.ndarray) -> None:
        raise ValueError("an image result has no artefact beside its picture")


@dataclass(frozen=True)
class AudioModality:
    """Sound: waveforms through the model's front end (`sound`), inputs `frames` wide, positions in time, the
    picture a log-mel spectrogram, and a .wav beside it."""

    sound: AudioInput
    name: str = "audio"
    positions: str = "time"
    normalizes: bool = False
    shown_at_other_sizes: bool = False

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
        from featurelens.data.audio_sources import audio_data_spec  # the audio readers load only when sound is read

        return audio_data_spec(data)

    def picture(self, item: np.ndarray) -> np.ndarray:
        """A log-mel [bands, frames] as a picture, uint8 [H, W, 3], low bands at the bottom."""
        from featurelens.output.spectrogram import spectrogram_picture

        return spectrogram_picture(item)

    def artefact_suffix(self) -> str | None:
        """A sound is heard from a .wav beside its spectrogram."""
        return ".wav"

    def write_artefact(self, path: Path, artefact: np.ndarray) -> None:
        """The sound as a 16-bit WAV at the model's sample rate."""
        write_wav(path, artefact, self.sound.sample_rate)
