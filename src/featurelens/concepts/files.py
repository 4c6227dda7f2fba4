"""Writing a `find`: one page with the top units and the concept's direction, and the files to use them again.

  index.html                  the page: the positives, each layer's direction, the top units with AUC and threshold
  ranking.json                every unit, best AUC first, and the summary
  concept-LAYER.npy           the direction over LAYER's channels: `featurelens render "LAYER:dir=concept-LAYER.npy"`
  concept-LAYER.pt            the same as a one-feature dictionary: `--dictionary concept-LAYER.pt` names it LAYER/concept:0
  renders/NNN_UNIT.png        each top unit's render, then each direction's
  inputs/NNNNNNN.png          each example input of the data as the model saw it
  positives/NNN.png           the first positives as the model saw them

It imports no result type: it reads a find through the Protocol below, so imports run one way, result → files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from featurelens.concepts.direction_unit import CONCEPT, concept_layer
from featurelens.output.folder_run import replacing, write_text_atomic
from featurelens.output.images import safe_filename, save_png
from featurelens.output.pages import page_template



class FindFigures(Protocol):
    """What the writer reads of a find (a `concepts.result.FindResult`)."""

    concepts: Any
    positive_counts: Any
    positive_names: Any
    positive_pictures: Any
    probes: Any
    ranking: Any
    renders: Any
    top: Any

    def summary(self) -> dict: ...

    def examples_of(self, layer: str) -> Any: ...


def direction_file(layer: str) -> str:
    """The direction's file name for `layer`, e.g. concept-conv3.npy."""
    return f"{CONCEPT}-{safe_filename(layer)}.npy"


def write_find(result: FindFigures, out_dir: Path) -> Path:
    """Write everything for `result` under `out_dir`, replacing a previous `find` there; returns index.html."""
    with replacing(out_dir, "find"):
        return _write_all(result, out_dir)


def _write_all(result: FindFigures, out_dir: Path) -> Path:
    summary = result.summary()
    write_text_atomic(out_dir / "ranking.json", json.dumps({**summary, "ranking": [u.to_dict() for u in result.ranking]}, indent=1))
    directions = []
    for layer, probe in result.probes.items():
        npy = direction_file(layer)
        np.save(out_dir / npy, probe.direction)
        result.concepts[layer].save(out_dir / npy.replace(".npy", ".pt"))
        directions.append({"layer": layer, "npy": npy, "pt": npy.replace(".npy", ".pt"), "probe": probe,
                           "address": concept_layer(layer),
                           "render": _render_png(result, f"{concept_layer(layer)}:0", out_dir),
                           "examples": _examples(result, concept_layer(layer), 0, out_dir)})
    units = [{"separation": unit, "render": _render_png(result, unit.unit, out_dir), "examples": _examples(result, unit.layer, unit.channel, out_dir)}
             for unit in result.top]
    positives = [{"name": name, "png": save_png(picture, out_dir / f"positives/{i:03d}.png").relative_to(out_dir).as_posix()}
                 for i, (name, picture) in enumerate(zip(result.positive_names, result.positive_pictures))]
    page = page_template("concepts/index.html.j2").render(
        result=result, summary=summary, units=units, directions=directions, positives=positives,
        more_positives=max(0, result.positive_counts.whole - len(positives)),
    )
    index = out_dir / "index.html"
    index.write_text(page)
    return index


def _render_png(result: FindFigures, unit: str, out_dir: Path) -> str | None:
    """The render of `unit` written as renders/NNN_UNIT.png (None when it was not rendered: an interrupted run)."""
    if result.renders is None:
        return None
    for i, rendered in enumerate(result.renders.units):
        if rendered.unit == unit:
            name = f"renders/{i:03d}_{safe_filename(unit)}.png"
            if not (out_dir / name).exists():
                save_png(rendered.image, out_dir / name)
            return name
    return None


def _examples(result: FindFigures, layer: str, channel: int, out_dir: Path) -> list[dict]:
    """The top examples of `layer:channel` on the data, each input written once as inputs/NNNNNNN.png."""
    found = result.examples_of(layer)
    if found is None:
        return []
    examples, ranked_layer = found
    ranked = ranked_layer.ranked["max"]
    shown = []
    for rank in range(ranked.indices.shape[1]):
        index = int(ranked.indices[channel, rank])
        png = f"inputs/{index:07d}.png"
        if not (out_dir / png).exists():
            save_png(examples.image(index), out_dir / png)
        shown.append({"png": png, "item": examples.item(index), "score": float(ranked.scores[channel, rank])})
    return shown
