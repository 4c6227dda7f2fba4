"""Writing dataset examples, of images or of clips: examples.parquet, summary.json, the entries' files, the pages.

Layout of the output folder (all links relative, so the pages work, and play, offline and when moved):

  examples.parquet                  one row per (layer, channel, kind, rank)
  summary.json                      settings, counts, speed, unreadable files, receptive fields
  index.html, layer-<LAYER>.html    the pages; a layer whose examples carry many players (torchcrepe's 360 pitch bins)
  layer-<LAYER>-<N>.html            takes several pages, linked in order, at most `PLAYERS_PER_PAGE` players each
  …                                 what the inputs write: images with crops (`image_inputs`) or clips, spectrograms
                                    and excerpts (`clip_inputs`)
  checkpoint.pt                     the running state while a pass is unfinished (featurelens.dataset_examples.checkpoint)

It imports no result type: it reads the examples through the Protocol below, so imports run one way, result → files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping, Protocol, Sequence

import numpy as np

from featurelens.dataset_examples.topk import KINDS
from featurelens.output.folder_run import replacing, write_text_atomic
from featurelens.output.images import safe_filename
from featurelens.output.pages import page_template

if TYPE_CHECKING:
    from featurelens.dataset_examples.rows import ExampleKey, ExampleRow

KIND_TITLES = {"max": "top", "min": "bottom"}
PLAYERS_PER_PAGE = 256  # thousands of <audio> elements on one page take Chromium tens of seconds to lay out


class ExampleFigures(Protocol):
    """What the writer reads of examples (a `dataset_examples.result.ExamplesResult`; the pages read its fields too)."""

    inputs: Any  # a `result.ExampleInputs`: rows, table, files and page data of images or clips

    @property
    def layers(self) -> Sequence[Any]: ...

    def examples(self) -> Iterator[ExampleRow]: ...

    def summary(self) -> dict: ...


def write_examples(
    result: ExampleFigures,
    out_dir: Path,
    projections: Mapping[ExampleKey, np.ndarray] | None = None,
    workers: int | None = None,
) -> Path:
    """Write everything for `result` under `out_dir`; returns the path of index.html.

    `projections` optionally maps (layer, channel, kind, rank) to a uint8 [H, W, C] image shown beside the crop.
    A previous examples result in `out_dir` is replaced as a whole (`folder_run.replacing`): no stale layer pages.
    """
    with replacing(out_dir, "examples", legacy=previous_examples):
        return _write_all(result, out_dir, projections or {}, workers)


def previous_examples(out_dir: Path) -> list[Path]:
    """An examples folder written before runs were recorded: its own files and folders, by name."""
    if not (out_dir / "summary.json").exists() or not (out_dir / "examples.parquet").exists():
        return []
    named = [out_dir / name for name in ("examples.parquet", "summary.json", "index.html")] + list(out_dir.glob("layer-*.html"))
    folders = ("inputs", "crops", "projections", "clips", "spectrograms", "excerpts")
    return named + [p for folder in folders for p in (out_dir / folder).rglob("*") if p.suffix in (".png", ".wav")]


def _write_all(result: ExampleFigures, out_dir: Path, projections: Mapping, workers: int | None) -> Path:
    inputs, rows, summary = result.inputs, list(result.examples()), result.summary()
    inputs.write_table(rows, out_dir / "examples.parquet")
    write_text_atomic(out_dir / "summary.json", json.dumps(summary, indent=2))
    inputs.write(result, rows, out_dir, projections, workers)
    shown = {"result": result, "figures": inputs.figures, **inputs.page_facts()}
    pages = []
    for layer in result.layers:
        blocks = inputs.blocks(result, layer, [row for row in rows if row.layer == layer.layer], projections)
        chunks = page_chunks(blocks, inputs.players_per_example)
        parts = [{"href": layer_part_name(layer.layer, n), "title": chunk_title(chunk)} for n, chunk in enumerate(chunks)]
        for n, chunk in enumerate(chunks):
            html = page_template("dataset_examples/layer.html.j2").render(
                **shown, layer=layer, field=layer.receptive_field, channels=chunk, parts=parts, part=n)
            (out_dir / parts[n]["href"]).write_text(html)
        pages.append({"layer": layer, "name": layer.layer, "page": parts[0]["href"], "parts": len(chunks)})
    index = out_dir / "index.html"
    index.write_text(page_template("dataset_examples/index.html.j2").render(**shown, pages=pages, summary=summary))
    return index


def channel_blocks(rows: list[ExampleRow], figure: Callable[[Any], dict]) -> list[dict]:
    """Template data: per channel, the top and the bottom examples in rank order, each as `figure(row)` shows it."""
    blocks: dict[int, dict] = {}
    for row in rows:
        block = blocks.setdefault(row.channel, {"channel": row.channel, "kinds": {}, "label": None})
        kind = block["kinds"].setdefault(row.kind, {"kind": row.kind, "title": KIND_TITLES[row.kind], "examples": []})
        kind["examples"].append({"row": row, **figure(row)})
    return [{**b, "kinds": [b["kinds"][k] for k in KINDS if k in b["kinds"]]} for b in blocks.values()]


def page_chunks(blocks: list[dict], players_per_example: int) -> list[list[dict]]:
    """The channel blocks split into pages of at most `PLAYERS_PER_PAGE` players (at least one page, one block each);
    examples without players all go on one page."""
    if not players_per_example:
        return [blocks]
    players = max((players_per_example * sum(len(kind["examples"]) for kind in block["kinds"]) for block in blocks), default=1)
    per_page = max(1, PLAYERS_PER_PAGE // max(players, 1))
    return [blocks[i:i + per_page] for i in range(0, len(blocks), per_page)] or [[]]


def layer_page_name(layer: str) -> str:
    return f"layer-{safe_filename(layer)}.html"


def layer_part_name(layer: str, part: int) -> str:
    """Page `part` (from 0) of a layer: the first is the layer's page, the others `layer-<LAYER>-<N>.html` (N from 2)."""
    first = layer_page_name(layer)
    return first if part == 0 else f"{first.removesuffix('.html')}-{part + 1}.html"


def chunk_title(chunk: list[dict]) -> str:
    """How a page is named in the page links: its channels, and what they stand for ("0–20 · 31.7–39.1 Hz")."""
    if not chunk:
        return "no channels"
    first, last = chunk[0], chunk[-1]
    title = f"{first['channel']}–{last['channel']}" if len(chunk) > 1 else str(first["channel"])
    if first["label"] and last["label"]:
        title += f" · {first['label']}" if len(chunk) == 1 else f" · {first['label']} – {last['label']}"
    return title
