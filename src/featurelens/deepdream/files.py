"""Writing a dream: the PNG at the input's size and, on request, each octave's image and the objective's trajectory.

It imports no result type: it reads a dream through the Protocols below, so imports run one way, result → files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, Sequence

from featurelens.images import to_pixels
from featurelens.output.folder_run import replacing
from featurelens.output.images import save_png

if TYPE_CHECKING:
    import numpy as np
    import torch


class OctaveImage(Protocol):
    """What the writer reads of one octave (a `deepdream.result.OctaveTrace`)."""

    image: torch.Tensor  # [B, C, h, w] in [0, 1]


class DreamFigures(Protocol):
    """What the writer reads of a dream (a `deepdream.result.DreamResult`)."""

    @property
    def octaves(self) -> Sequence[OctaveImage]: ...

    @property
    def images(self) -> np.ndarray: ...

    def summary(self) -> dict: ...


def write_dream(result: DreamFigures, out: Path, save_octaves: bool = False) -> list[Path]:
    """Write `out` (a PNG; for several photos, OUT/dream_N.png); with `save_octaves` also each octave's image and OUT.json.

    Returns the paths written, the dream first."""
    if len(result.images) == 1 and out.suffix:
        return _write(result, [out], save_octaves)
    folder = out.with_suffix("") if out.suffix else out
    with replacing(folder, "dream"):
        return _write(result, [folder / f"dream_{i}.png" for i in range(len(result.images))], save_octaves)


def _write(result: DreamFigures, targets: list[Path], save_octaves: bool) -> list[Path]:
    pictures = result.images
    paths = [save_png(picture, target) for picture, target in zip(pictures, targets)]
    if save_octaves:
        for i, octave in enumerate(result.octaves):
            for picture, target in zip(to_pixels(octave.image), targets):
                paths.append(save_png(picture, target.with_name(f"{target.stem}_octave{i}.png")))
        trajectory = targets[0].with_suffix(".json") if len(targets) == 1 else targets[0].parent / "dream.json"
        trajectory.write_text(json.dumps(result.summary(), indent=2))
        paths.append(trajectory)
    return paths
