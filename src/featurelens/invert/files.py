"""Writing unit decodes: input | decode | what the unit adds, side by side, enlarged so small inputs stay visible.

It imports no result type: it reads decodes through the Protocol below, so imports run one way, result → files."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from featurelens.images import to_pixels
from featurelens.output.folder_run import replacing
from featurelens.output.images import contact_sheet, safe_filename

if TYPE_CHECKING:
    import torch

PANEL = 224  # pixels a side for each panel, so 28×28 inputs stay visible


class DecodeFigures(Protocol):
    """What the writer reads of decodes (an `invert.decoding.DecodeResult`)."""

    units: list[str]
    inputs: torch.Tensor  # [N, C, S, S]

    @property
    def images(self) -> np.ndarray: ...

    @property
    def contribution_images(self) -> np.ndarray: ...


def write_decodes(result: DecodeFigures, path: Path) -> Path:
    """One three-panel PNG at `path` (.png) for one decode; one per decode in the folder `path` otherwise. Returns the first."""
    if len(result.units) == 1 and path.suffix:
        return _write(result, [path])
    with replacing(path, "decode"):
        return _write(result, [path / f"{i:03d}_{safe_filename(unit)}.png" for i, unit in enumerate(result.units)])


def _write(result: DecodeFigures, targets: list[Path]) -> Path:
    inputs = to_pixels(result.inputs)
    decodes = result.images
    added = result.contribution_images
    for i, (unit, target) in enumerate(zip(result.units, targets)):
        target.parent.mkdir(parents=True, exist_ok=True)
        panels = [_enlarge(inputs[i]), _enlarge(decodes[i]), _enlarge(added[i])]
        contact_sheet(panels, ["input", f"decode {unit}", "added (red +, blue -)"], columns=3).save(target)
    return targets[0]


def _enlarge(pixels: np.ndarray) -> np.ndarray:
    """uint8 [S, S, C] → RGB [≈PANEL, ≈PANEL, 3], enlarged with nearest neighbours."""
    scale = max(1, PANEL // pixels.shape[0])
    big = pixels.repeat(scale, axis=0).repeat(scale, axis=1)
    return np.repeat(big, 3, axis=2) if big.shape[2] == 1 else big
