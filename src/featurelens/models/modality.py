"""`Modality`: what differs between an image model and an audio model, as one small object a `LoadedModel` carries.

Techniques ask their model's modality instead of branching on the kind of model: how its inputs are sized and
described, what one dry run feeds it, where its data comes from, how an input is shown as a picture, which layer
outputs are maps of positions (in space or over time), and (for sound) the front end a result is heard through.
Everything else (capture, units, ranking, writing) is shared; what a result adds for sound (a WAV) is data on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from featurelens.audio.input import AudioInput
from featurelens.errors import FeaturelensError


class Modality(Protocol):
    """The questions techniques ask of a model's kind of input (`ImageModality`; `featurelens.audio.modality.AudioModality`)."""

    name: str  # "image" or "audio": also what render.json and the server report
    map_ranks: tuple[int, ...]  # ranks of a layer's output [C, …] that are maps of positions (in space, or over time)
    map_noun: str  # what such a map is called in messages: "spatial map", "map over time"
    normalizes: bool  # whether inputs go through the model's mean/std (images do; a spectrogram enters as it is)
    shown_at_other_sizes: bool  # whether a finished input is also judged at other sides (images shown at 128 px)
    projects: bool  # whether a unit's examples are projected back onto their input (deconvnet, guided: images only)
    renders_diverse: bool  # whether a unit also gets a diverse set of renders beside its max and min
    renders: bool  # whether a unit's input can be grown at all (sound: only through a log-mel front end)
    takes_photos: bool  # whether the bundled photos are inputs of this kind (the live page probes layers on them)
    shows_top_classes: bool  # whether a live input is shown with the model's top classes
    sound: AudioInput | None  # the front end and conventions of an audio model's input (None for images)

    def to(self, device: torch.device | str) -> None: ...

    def input_pair(self, side: int) -> tuple[int, int]: ...

    def size_label(self, height: int, width: int) -> str: ...

    def dry_run_input(self, height: int, width: int, channels: int, device: torch.device) -> torch.Tensor: ...

    def data_spec(self, data: Any) -> str: ...

    def picture(self, item: np.ndarray) -> np.ndarray: ...

    def stored_data(self, data: str | Path) -> str: ...

    def input_facts(self) -> dict | None: ...


@dataclass(frozen=True)
class ImageModality:
    """Images: [B, C, H, W] floats in [0, 1], square inputs, positions in space, the picture is the image itself."""

    name: str = "image"
    map_ranks: tuple[int, ...] = (3,)  # [C, H, W]
    map_noun: str = "spatial map"
    normalizes: bool = True
    shown_at_other_sizes: bool = True
    projects: bool = True
    renders_diverse: bool = True
    renders: bool = True
    takes_photos: bool = True
    shows_top_classes: bool = True
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

    def stored_data(self, data: str | Path) -> str:
        """A data source as an atlas stores it, to read it again later: a built-in name or a folder's absolute path;
        a one-line error when it is missing (whether it opens is `data_spec`'s question)."""
        from featurelens.data.sources import BUILTIN_SOURCES  # the image readers load only when images are read

        text = str(data)
        if text in BUILTIN_SOURCES:
            return text
        path = Path(text).expanduser()
        if not path.exists():
            raise FeaturelensError(f"data source {text!r} not found: give a folder of images or one of {', '.join(BUILTIN_SOURCES)}")
        return str(path.resolve())

    def input_facts(self) -> dict | None:
        """What a page says of the input besides its size: nothing more for an image."""
        return None
