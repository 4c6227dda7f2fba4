"""Writing dataset examples: examples.parquet, summary.json, input thumbnails, crops, a page per layer, index.html.

Layout of the output folder (all links relative, so the pages work offline and when moved):

  examples.parquet                      one row per (layer, channel, kind, rank)
  summary.json                          settings, counts, speed, unreadable files, receptive fields
  index.html, layer-<LAYER>.html        the pages
  inputs/<ENTRY>.png                    each example input as the model saw it
  crops/<LAYER>/c<C>-<KIND><RANK>.png   the part of the input the unit saw (whole-input crops: the input's PNG)
  projections/<LAYER>/…png              optional per-example projections (e.g. deconvnet)
  checkpoint.pt                         the running state while a pass is unfinished (featurelens.dataset_examples.checkpoint)

It imports no result type: it reads the examples through the Protocols below, so imports run one way, result → files.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Mapping, Protocol, Sequence

import numpy as np

from featurelens.output.folder_run import replacing, write_text_atomic
from featurelens.output.images import safe_filename, to_pil
from featurelens.output.pages import page_template

if TYPE_CHECKING:
    from featurelens.dataset_examples.rows import Example, ExampleKey
    from featurelens.geometry import ReceptiveField

KIND_TITLES = {"max": "top", "min": "bottom"}


class LayerRanking(Protocol):
    """What the writer reads of one layer (a `dataset_examples.result.LayerExamples`; the pages read its fields too)."""

    layer: str
    channels: int
    height: int
    width: int
    receptive_field: ReceptiveField

    @property
    def crop(self) -> str: ...


class ExamplesFigures(Protocol):
    """What the writer reads of examples (a `dataset_examples.result.ExamplesResult`; the pages read its fields too)."""

    input_size: int

    @property
    def layers(self) -> Sequence[LayerRanking]: ...

    def examples(self) -> Iterator[Example]: ...

    def image(self, index: int) -> np.ndarray: ...

    def summary(self) -> dict: ...


def write_examples(
    result: ExamplesFigures,
    out_dir: Path,
    projections: Mapping[ExampleKey, np.ndarray] | None = None,
    workers: int | None = None,
) -> Path:
    """Write everything for `result` under `out_dir`; returns the path of index.html.

    `projections` optionally maps (layer, channel, kind, rank) to a uint8 [H, W, C] image shown beside the crop.
    A previous examples result in `out_dir` is replaced as a whole (`folder_run.replacing`): no stale layer pages.
    """
    with replacing(out_dir, "examples", legacy=previous_examples):
        return _write_all(result, out_dir, projections, workers)


def previous_examples(out_dir: Path) -> list[Path]:
    """An examples folder written before runs were recorded: its own files and folders, by name."""
    if not (out_dir / "summary.json").exists() or not (out_dir / "examples.parquet").exists():
        return []
    named = [out_dir / name for name in ("examples.parquet", "summary.json", "index.html")] + list(out_dir.glob("layer-*.html"))
    folders = ("inputs", "crops", "projections", "clips", "spectrograms", "excerpts")
    return named + [p for folder in folders for p in (out_dir / folder).rglob("*") if p.suffix in (".png", ".wav")]


def _write_all(result: ExamplesFigures, out_dir: Path, projections: Mapping[ExampleKey, np.ndarray] | None, workers: int | None) -> Path:
    rows = list(result.examples())
    write_table(rows, out_dir / "examples.parquet")
    write_text_atomic(out_dir / "summary.json", json.dumps(result.summary(), indent=2))
    _write_images(result, rows, out_dir, projections or {}, workers)
    pages = []
    for layer in result.layers:
        page = layer_page_name(layer.layer)
        layer_rows = [row for row in rows if row.layer == layer.layer]
        html = page_template("dataset_examples/layer.html.j2").render(
            result=result, layer=layer, channels=_channel_blocks(result, layer_rows, projections or {}),
            field=layer.receptive_field, size=result.input_size, thumb=_thumb_size(result.input_size),
        )
        (out_dir / page).write_text(html)
        pages.append({"name": layer.layer, "page": page, "channels": layer.channels, "field": layer.receptive_field,
                      "shape": f"{layer.channels}×{layer.height}×{layer.width}", "crop": layer.crop})
    index = out_dir / "index.html"
    index.write_text(page_template("dataset_examples/index.html.j2").render(result=result, pages=pages, summary=result.summary()))
    return index


def write_table(rows: list[Example], path: Path) -> Path:
    """The examples table as Parquet: layer, channel, kind, rank, score, item, y, x, x0, y0, x1, y1."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    items = [row.item for row in rows]
    item_type = pa.string() if any(isinstance(item, str) for item in items) else pa.int64()
    columns = {
        "layer": pa.array([row.layer for row in rows], pa.string()),
        "channel": pa.array([row.channel for row in rows], pa.int32()),
        "kind": pa.array([row.kind for row in rows], pa.string()),
        "rank": pa.array([row.rank for row in rows], pa.int32()),
        "score": pa.array([row.score for row in rows], pa.float32()),
        "item": pa.array([str(i) for i in items] if item_type == pa.string() else items, item_type),
        "y": pa.array([row.y for row in rows], pa.int32()),
        "x": pa.array([row.x for row in rows], pa.int32()),
    }
    for i, name in enumerate(("x0", "y0", "x1", "y1")):
        columns[name] = pa.array([row.box[i] for row in rows], pa.int32())
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), path)
    return path


def layer_page_name(layer: str) -> str:
    return f"layer-{safe_filename(layer)}.html"


def input_path(index: int) -> str:
    return f"inputs/{index:07d}.png"


def crop_path(row: Example, size: int) -> str:
    """The crop's PNG; a crop that is the whole `size`-pixel input is the input's own PNG (deep layers: most of them)."""
    if row.box == (0, 0, size, size):
        return input_path(row.index)
    return f"crops/{safe_filename(row.layer)}/c{row.channel:04d}-{row.kind}{row.rank:02d}.png"


def projection_path(row: Example) -> str:
    return f"projections/{safe_filename(row.layer)}/c{row.channel:04d}-{row.kind}{row.rank:02d}.png"


def _save(image: np.ndarray, path: Path) -> None:
    # Fast compression: a run can write tens of thousands of small PNGs.
    to_pil(image).save(path, format="PNG", compress_level=1)


def _write_images(result: ExamplesFigures, rows: list[Example], out_dir: Path, projections: Mapping, workers: int | None) -> None:
    """Each example input once (loaded once, then all its crops), in threads; projections if given."""
    by_index: dict[int, list[Example]] = defaultdict(list)
    for row in rows:
        by_index[row.index].append(row)
    size = result.input_size
    folders = {out_dir / "inputs"} | {(out_dir / crop_path(row, size)).parent for row in rows}
    if projections:
        folders |= {(out_dir / projection_path(row)).parent for row in rows}
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)

    def write_one(index: int) -> None:
        image = result.image(index)
        _save(image, out_dir / input_path(index))
        for row in by_index[index]:
            x0, y0, x1, y1 = row.box
            if crop_path(row, size) != input_path(index):
                _save(np.ascontiguousarray(image[y0:y1, x0:x1]), out_dir / crop_path(row, size))
            projection = projections.get((row.layer, row.channel, row.kind, row.rank))
            if projection is not None:
                _save(np.asarray(projection, dtype=np.uint8), out_dir / projection_path(row))

    with ThreadPoolExecutor(workers or max(1, min(8, os.cpu_count() or 1))) as pool:
        list(pool.map(write_one, sorted(by_index)))


def _thumb_size(input_size: int) -> int:
    return max(64, min(input_size, 112))


def _channel_blocks(result: ExamplesFigures, rows: list[Example], projections: Mapping) -> list[dict]:
    """Template data: per channel, the top and the bottom examples with paths, caption and outline box (in %)."""
    size = result.input_size
    blocks: dict[int, dict] = {}
    for row in rows:
        block = blocks.setdefault(row.channel, {"channel": row.channel, "kinds": {}})
        kind = block["kinds"].setdefault(row.kind, {"kind": row.kind, "title": KIND_TITLES[row.kind], "examples": []})
        x0, y0, x1, y1 = row.box
        kind["examples"].append({
            "rank": row.rank, "score": row.score, "item": row.item, "y": row.y, "x": row.x, "box": row.box,
            "input": input_path(row.index), "crop": crop_path(row, size),
            "projection": projection_path(row) if (row.layer, row.channel, row.kind, row.rank) in projections else None,
            "outline": {"left": 100 * x0 / size, "top": 100 * y0 / size, "width": 100 * (x1 - x0) / size, "height": 100 * (y1 - y0) / size},
        })
    return [{"channel": b["channel"], "kinds": [b["kinds"][k] for k in ("max", "min") if k in b["kinds"]]} for b in blocks.values()]
