"""Writing an evolution: each unit's render per checkpoint, its top-k examples as one grid per checkpoint,
evolution.json and the timeline page (one row a unit, one column a checkpoint; links relative, offline).

  index.html                         the timeline page
  evolution.json                     checkpoints, and per unit per checkpoint its figures and PNG names
  renders/<UNIT>/<CHECKPOINT>.png    the unit's render at that checkpoint
  examples/<UNIT>/<CHECKPOINT>.png   its top-k dataset examples at that checkpoint, best first

It imports no result type: it reads an evolution through the Protocols below, so imports run one way, result → files.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, Sequence

from featurelens.output.folder_run import replacing
from featurelens.output.images import contact_sheet, safe_filename, save_png
from featurelens.output.pages import page_template

if TYPE_CHECKING:
    import numpy as np

    from featurelens.evolution.checkpoints import Checkpoint

THUMB = 112  # px a render is shown at; small renders are scaled up without smoothing


class CellImages(Protocol):
    """What the writer reads of one unit at one checkpoint (an `evolution.result.EvolvedCell`)."""

    image: np.ndarray  # uint8 [H, W, C]
    example_images: np.ndarray | None  # uint8 [k, S, S, C]


class TimelineImages(Protocol):
    """What the writer reads of one unit's row (an `evolution.result.UnitTimeline`)."""

    unit: str

    @property
    def cells(self) -> Sequence[CellImages]: ...


class EvolutionFigures(Protocol):
    """What the writer reads of an evolution (an `evolution.result.EvolveResult`; the page reads its fields too)."""

    @property
    def checkpoints(self) -> Sequence[Checkpoint]: ...

    @property
    def units(self) -> Sequence[TimelineImages]: ...

    def summary(self, png_names: dict | None = None) -> dict: ...


def write_evolution(result: EvolutionFigures, out_dir: Path) -> Path:
    """Write everything for `result` under `out_dir`, replacing a previous evolution there; returns the page's path."""
    with replacing(out_dir, "evolve"):
        return _write_all(result, out_dir)


def _write_all(result: EvolutionFigures, out_dir: Path) -> Path:
    columns = [safe_filename(f"{i:02d}-{c.label}") for i, c in enumerate(result.checkpoints)]
    names, rows = {}, []
    for timeline in result.units:
        folder = safe_filename(timeline.unit)
        cells = []
        for i, cell in enumerate(timeline.cells):
            render = f"renders/{folder}/{columns[i]}.png"
            save_png(cell.image, out_dir / render)
            grid = None
            if cell.example_images is not None and len(cell.example_images):
                grid = f"examples/{folder}/{columns[i]}.png"
                side = math.ceil(math.sqrt(len(cell.example_images)))
                (out_dir / grid).parent.mkdir(parents=True, exist_ok=True)
                contact_sheet(list(cell.example_images), columns=side, pad=1).save(out_dir / grid)
            names[(timeline.unit, i)] = {"png": render, "examples_png": grid}
            cells.append({"cell": cell, "png": render, "examples_png": grid})
        rows.append({"unit": timeline.unit, "cells": cells})
    (out_dir / "evolution.json").write_text(json.dumps(result.summary(names), indent=2))
    page = page_template("evolution/timeline.html.j2").render(result=result, rows=rows, thumb=THUMB)
    index = out_dir / "index.html"
    index.write_text(page)
    return index
