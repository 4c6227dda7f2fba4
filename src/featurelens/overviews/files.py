"""Writing a layer overview: a folder of PNGs per layer, a grid per layer, and index.html.

It imports no result type of its own package: it reads each layer through the Protocol below, so imports run one way,
build → files."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from featurelens.output.folder_run import replacing
from featurelens.output.images import contact_sheet, safe_filename
from featurelens.output.pages import page_template
from featurelens.rendering.files import unit_labels, write_render

if TYPE_CHECKING:
    from featurelens.capture import LayerInfo
    from featurelens.rendering import RenderSettings
    from featurelens.rendering.result import RenderResult


class LayerRenders(Protocol):
    """What the writer reads of one layer's overview (an `overviews.build.LayerOverview`)."""

    layer: str
    info: LayerInfo
    result: RenderResult


def write_overview(overviews: list[LayerRenders], model_spec: str, settings: RenderSettings, out_dir: Path) -> Path:
    """Write every layer's images and grid, then the page, replacing a previous overview there; returns the page's path."""
    with replacing(out_dir, "overview"):
        return _write_all(overviews, model_spec, settings, out_dir)


def _write_all(overviews: list[LayerRenders], model_spec: str, settings: RenderSettings, out_dir: Path) -> Path:
    layers = []
    for overview in overviews:
        folder = safe_filename(overview.layer)
        paths = write_render(overview.result, out_dir / folder)
        contact_sheet(list(overview.result.images), columns=8).save(out_dir / f"{folder}_grid.png")
        units = [
            {"unit": u.unit, "png": f"{folder}/{p.name}", "activation": u.activation, "natural_max": u.natural_max,
             "data_best": u.data_best, "beats_data": u.beats_data, "size": u.size, "judged": label.split("\n")[1:]}
            for u, p, label in zip(overview.result.units, paths, unit_labels(overview.result))
        ]
        layers.append({"name": overview.layer, "type": overview.info.type, "shape": "×".join(map(str, overview.info.shape)), "units": units})
    data = next((o.result.data for o in overviews if o.result.data), None)
    page = page_template("overviews/overview.html.j2").render(
        model=model_spec, layers=layers, data=data, settings=settings, thumb=128, judged=any(u["judged"] for layer in layers for u in layer["units"])
    )
    index = out_dir / "index.html"
    index.write_text(page)
    return index
