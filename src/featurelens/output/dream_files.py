"""Writing a dream: the PNG at the input's size and, on request, each octave's image and the objective's trajectory."""

from __future__ import annotations

import json
from pathlib import Path

from featurelens.dream.result import DreamResult, to_pixels
from featurelens.output.images import save_png


def write_dream(result: DreamResult, out: Path, save_octaves: bool = False) -> list[Path]:
    """Write `out` (PNG); with `save_octaves` also OUT_octaveN.png per octave and OUT.json. Returns the paths written."""
    paths = [save_png(result.pixels, out)]
    if save_octaves:
        for i, octave in enumerate(result.octaves):
            paths.append(save_png(to_pixels(octave.image), out.with_name(f"{out.stem}_octave{i}.png")))
        trajectory = out.with_suffix(".json")
        trajectory.write_text(json.dumps(result.summary(), indent=2))
        paths.append(trajectory)
    return paths
