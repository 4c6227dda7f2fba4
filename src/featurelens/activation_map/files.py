"""Writing an activation atlas: a zoomable page, a page per cell with its examples, the renders and directions.

    index.html, map.css, map.js    the map: every filled cell's render at its place in the grid, zoomable; the class
                                   view and the dictionary's features when there are
    grid.css                       the grid's rows, columns and colours as classes (no inline style or script: the
                                   pages pass a strict Content-Security-Policy)
    cells/R_C.html                 a cell: its render, figures, neighbours and examples
    renders/R_C.png                the render of the cell's mean activation
    directions/R_C.npy             the direction rendered (its mean activation, less all points' mean with `center`):
                                   `featurelens render LAYER:dir=directions/R_C.npy` renders it again
    examples/R_C/N.png, N-in.png   each example's crop around its position, and its whole input with the crop outlined
    map.json                       settings, cells, figures; points.json: every point's input, position, place and cell

It imports no result type: it reads a map through the Protocols below, so imports run one way, result → files.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any, Protocol, Sequence

import numpy as np
from PIL import Image, ImageDraw

from featurelens.output.folder_run import replacing, write_text_atomic
from featurelens.output.images import enlarged, save_png
from featurelens.output.pages import page_template



class MapCellFigures(Protocol):
    """What the writer reads of one cell (an `activation_map.result.MapCell`)."""

    row: int
    col: int
    vector: np.ndarray
    examples: np.ndarray
    direction: np.ndarray | None
    render: Any

    @property
    def name(self) -> str: ...


class MapFigures(Protocol):
    """What the writer reads of a map (an `activation_map.result.MapResult`)."""

    cells: Sequence[MapCellFigures]
    features: Any
    field: Any
    in_channels: int
    input_size: int
    points: Any
    settings: Any
    source: Any
    xy: np.ndarray

    def summary(self) -> dict: ...

    def cell_of_points(self) -> Any: ...

    def class_cells(self, count: int | None = None) -> Any: ...


STATIC = ("map.css", "map.js")
HEAT_LEVELS = 10  # shades of the class view, each way
EXAMPLE_SIDE = 96  # examples are enlarged (pixels repeated) to at least this side


def write_map(result: MapFigures, folder: Path) -> Path:
    """Write the atlas into `folder`, replacing a previous map there; returns index.html's path."""
    with replacing(folder, "map"):
        for name in STATIC:
            (folder / name).write_bytes(resources.files("featurelens.activation_map").joinpath("templates", name).read_bytes())
        write_text_atomic(folder / "grid.css", _grid_css(result.settings.grid))
        cells = [_write_cell_files(result, cell, folder) for cell in result.cells]
        heat = _heat_levels(result)
        context = {"map": result, "cells": cells, "heat": heat, "top": [c.name for c in result.class_cells(10)],
                   "features_by_cell": _features_by_cell(result)}
        template = page_template("activation_map/cell.html.j2")
        filled = {(c.row, c.col) for c in result.cells}
        for cell, files in zip(result.cells, cells):
            neighbours = {name: f"{r}_{c}.html" for name, (r, c) in
                          (("up", (cell.row - 1, cell.col)), ("down", (cell.row + 1, cell.col)), ("left", (cell.row, cell.col - 1)),
                           ("right", (cell.row, cell.col + 1))) if (r, c) in filled}
            page = template.render(**context, cell=cell, files=files, neighbours=neighbours)
            write_text_atomic(folder / "cells" / f"{cell.name}.html", page)
        write_text_atomic(folder / "map.json", json.dumps(result.summary(), indent=1))
        write_text_atomic(folder / "points.json", json.dumps(_points_table(result)))
        index = folder / "index.html"
        write_text_atomic(index, page_template("activation_map/index.html.j2").render(**context))
    return index


def _write_cell_files(result: MapFigures, cell: MapCellFigures, folder: Path) -> dict:
    """A cell's render, direction and examples on disk; returns what its pages show."""
    (folder / "directions").mkdir(exist_ok=True)
    np.save(folder / "directions" / f"{cell.name}.npy", np.asarray(cell.direction, np.float32))
    render = None
    if cell.render is not None:
        render = f"renders/{cell.name}.png"
        save_png(cell.render.image, folder / render)
    examples = []
    for rank, point in enumerate(cell.examples):
        entry = int(result.points.entries[point])
        position = tuple(int(p) for p in result.points.positions[point])
        image = _as_uint8(result.source.image(entry, result.in_channels, result.input_size))
        box = _box(result, position)
        crop, whole = f"examples/{cell.name}/{rank}.png", f"examples/{cell.name}/{rank}-in.png"
        save_png(enlarged(np.ascontiguousarray(image[box[1]:box[3], box[0]:box[2]])[None], EXAMPLE_SIDE)[0], folder / crop)
        save_png(_outlined(image, box), folder / whole)
        examples.append({"entry": entry, "key": result.source.key(entry), "position": position, "crop": crop, "whole": whole,
                         "x": float(result.xy[point, 0]), "y": float(result.xy[point, 1])})
    return {"name": cell.name, "render": render, "examples": examples, "direction": f"directions/{cell.name}.npy",
            "top_channels": [int(c) for c in np.argsort(-np.asarray(cell.vector), kind="stable")[:5]]}


def _as_uint8(image) -> np.ndarray:
    """A model image [C, S, S] in [0, 1] as uint8 [S, S, C]."""
    return (image.clamp(0, 1).permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)


def _box(result: MapFigures, position: tuple[int, ...]) -> tuple[int, int, int, int]:
    """The crop (x0, y0, x1, y1) the point's position sees: its receptive field on a 2-D map, else the whole input."""
    if len(position) == 2:
        return result.field.box(*position)
    return 0, 0, result.input_size, result.input_size


def _outlined(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The whole input, enlarged, with the crop's box drawn on it."""
    factor = max(1, -(-EXAMPLE_SIDE // image.shape[0]))
    picture = Image.fromarray(image[:, :, 0] if image.shape[2] == 1 else image).convert("RGB")
    picture = picture.resize((image.shape[1] * factor, image.shape[0] * factor), Image.NEAREST)
    x0, y0, x1, y1 = (value * factor for value in box)
    ImageDraw.Draw(picture).rectangle((x0, y0, x1 - 1, y1 - 1), outline=(255, 45, 85), width=max(1, factor // 2))
    return np.asarray(picture)


def _grid_css(grid: int) -> str:
    """The page's places as classes: a `grid`×`grid` grid with a class per row and column (from 0), the class view's
    shades (`push-K`, `pull-K`) and the features' places (`mxN`, `myN`: N % from the left and the top)."""
    rules = [f".map {{ grid-template-columns: repeat({grid}, 1fr); grid-template-rows: repeat({grid}, 1fr); }}"]
    rules += [f".r{i} {{ grid-row: {i + 1}; }} .c{i} {{ grid-column: {i + 1}; }}" for i in range(grid)]
    rules.append(".class-view .cell { position: relative; } .class-view .cell::after { content: ''; position: absolute; inset: 0; }")
    for level in range(1, HEAT_LEVELS + 1):
        alpha = level / HEAT_LEVELS
        rules.append(f".class-view .push-{level} {{ outline-color: rgba(220, 30, 30, {alpha:.1f}); }} "
                     f".class-view .push-{level}::after {{ background: rgba(220, 30, 30, {0.5 * alpha:.2f}); }}")
        rules.append(f".class-view .pull-{level} {{ outline-color: rgba(30, 80, 220, {alpha:.1f}); }} "
                     f".class-view .pull-{level}::after {{ background: rgba(30, 80, 220, {0.5 * alpha:.2f}); }}")
    rules += [f".mx{n} {{ left: {n}%; }} .my{n} {{ top: {n}%; }}" for n in range(101)]
    return "\n".join(rules) + "\n"


def _heat_levels(result: MapFigures) -> dict[str, str]:
    """Each cell's class-view colour class: `push-K` (K = 1…10, most at 10) for a positive mean attribution, `pull-K` for a
    negative one, scaled by the largest magnitude; empty without a class."""
    values = {c.name: c.attribution for c in result.cells if c.attribution is not None}
    largest = max((abs(v) for v in values.values()), default=0.0)
    if not largest:
        return {}
    return {name: f"{'push' if value >= 0 else 'pull'}-{max(1, round(HEAT_LEVELS * abs(value) / largest))}" for name, value in values.items()}


def _features_by_cell(result: MapFigures) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for feature in result.features:
        found.setdefault(f"{feature.row}_{feature.col}", []).append(feature.feature)
    return found


def _points_table(result: MapFigures) -> dict:
    """Every point: its input, its position on the layer's map, its place (x, y) in the unit square, its cell, and its
    attribution to the class when there is one."""
    cells = result.cell_of_points()
    table = {"entry": result.points.entries.tolist(), "position": result.points.positions.tolist(),
             "x": result.xy[:, 0].round(5).tolist(), "y": result.xy[:, 1].round(5).tolist(), "row": cells[:, 0].tolist(),
             "col": cells[:, 1].tolist()}
    if result.points.attributions is not None:
        table["attribution"] = result.points.attributions.round(6).tolist()
    return table
