"""Writing a dream: the PNG at the input's size and, on request, each octave's image and the objective's trajectory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from featurelens.images import to_pixels
from featurelens.output.images import save_png

if TYPE_CHECKING:
    from featurelens.deepdream.result import DreamResult


def write_dream(result: DreamResult, out: Path, save_octaves: bool = False) -> list[Path]:
    """Write `out` (a PNG; for several photos, OUT/dream_N.png); with `save_octaves` also each octave's image and OUT.json.

    Returns the paths written, the dream first."""
    pictures = result.images
    if len(pictures) == 1 and out.suffix:
        targets = [out]
    else:
        folder = out.with_suffix("") if out.suffix else out
        targets = [folder / f"dream_{i}.png" for i in range(len(pictures))]
    paths = [save_png(picture, target) for picture, target in zip(pictures, targets)]
    if save_octaves:
        for i, octave in enumerate(result.octaves):
            for picture, target in zip(to_pixels(octave.image), targets):
                paths.append(save_png(picture, target.with_name(f"{target.stem}_octave{i}.png")))
        trajectory = targets[0].with_suffix(".json") if len(targets) == 1 else targets[0].parent / "dream.json"
        trajectory.write_text(json.dumps(result.summary(), indent=2))
        paths.append(trajectory)
    return paths
