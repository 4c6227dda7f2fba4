"""The atlas pages: the index, a page per layer (a grid of its units) and a page per unit, from the manifest and the unit records.

Pages are plain HTML with relative links, one style sheet and inline SVG: they open from disk, work
when the folder moves, and load nothing from the network. A page is rewritten only when its text
changes, so a rerun that builds nothing leaves every file as it was.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable

from featurelens.atlas.files import INDEX, STYLE, layer_page_path, read_json, record_path, unit_page_path, write_text
from featurelens.output.pages import page_template

if TYPE_CHECKING:
    from featurelens.atlas.manifest import LayerEntry, Manifest

HISTOGRAM_WIDTH, HISTOGRAM_HEIGHT, HISTOGRAM_MARGIN = 360, 120, 6


class AtlasPages:
    """Writes the pages of the atlas in `folder`. `label(layer, channel)` names a unit (a class name for logits) or None."""

    def __init__(self, folder: Path, label: Callable[[str, int], str | None]):
        self.folder = folder
        self.label = label

    def _context(self, manifest: Manifest, root: str) -> dict:
        return {"manifest": manifest, "settings": manifest.settings, "root": root, "score_name": manifest.settings["score"],
                "audio": manifest.model.get("modality") == "audio"}

    def write_index(self, manifest: Manifest) -> bool:
        """index.html and style.css."""
        write_text(self.folder / STYLE, page_template(f"atlas/{STYLE}").render())
        page = page_template("atlas/index.html.j2").render(**self._context(manifest, ""))
        return write_text(self.folder / INDEX, page)

    def write_layer(self, manifest: Manifest, entry: LayerEntry) -> bool:
        renders = set(entry.renders)
        ext = manifest.settings["image_format"]
        cells = [{"channel": c, "label": self.label(entry.name, c), "image": f"{entry.folder}/renders/{c}-max.{ext}" if c in renders else None,
                  "below_data": c in renders and self._below_data(entry, c)} for c in entry.units]
        pixels = "pixels" if _render_side(manifest) < 104 else ""
        page = page_template("atlas/layer.html.j2").render(**self._context(manifest, "../"), entry=entry, cells=cells, pixels=pixels)
        return write_text(self.folder / layer_page_path(entry.name), page)

    def _below_data(self, entry: LayerEntry, channel: int) -> bool:
        """Whether the unit's max or min image ends below the data's best item (its record says)."""
        figures = (read_json(self.folder / record_path(entry.name, channel)) or {}).get("render_figures") or {}
        return any((figures.get(kind) or {}).get("beats_data") is False for kind in ("max", "min"))

    def write_units(self, manifest: Manifest, entry: LayerEntry, channels: set[int]) -> int:
        """The pages of `channels` of the layer (each from its record); returns how many changed."""
        units = entry.units
        position = {c: i for i, c in enumerate(units)}
        template = page_template("atlas/unit.html.j2")
        context = self._context(manifest, "../")
        pixels = {"render": "pixels" if _render_side(manifest) < 112 else "", "input": "pixels" if manifest.model["input_size"] < 96 else ""}
        written = 0
        for channel in sorted(channels & set(units)):
            # the unit is where the record was read from, whatever the file says (its channel builds links)
            record = {**read_json(self.folder / record_path(entry.name, channel)), "layer": entry.name, "channel": channel}
            i = position[channel]
            page = template.render(
                **context, entry=entry, record=record, pixels=pixels, input_size=manifest.model["input_size"],
                previous=units[i - 1] if i > 0 else None, next=units[i + 1] if i + 1 < len(units) else None,
                histogram=histogram_geometry(record["distribution"]) if record.get("distribution") else None,
            )
            written += write_text(self.folder / unit_page_path(entry.name, channel), page)
        return written

    def write_all(self, manifest: Manifest) -> None:
        """Every page of the atlas (unchanged ones stay as they are)."""
        for entry in manifest.layers:
            self.write_units(manifest, entry, set(entry.units))
            self.write_layer(manifest, entry)
        self.write_index(manifest)


def histogram_geometry(distribution: dict) -> dict:
    """Bars of the inline-SVG histogram of a unit record's `distribution` (bins = edges, counts per bin)."""
    edges, counts = distribution["bins"], distribution["counts"]
    left, right = HISTOGRAM_MARGIN, HISTOGRAM_WIDTH - HISTOGRAM_MARGIN
    top, base = 18, HISTOGRAM_HEIGHT - 18
    step = (right - left) / len(counts)
    peak = max(max(counts), 1)
    bars = []
    for i, count in enumerate(counts):
        height = (base - top) * count / peak
        bars.append({"x": round(left + i * step, 2), "width": round(max(step - 1, 0.5), 2), "y": round(base - height, 2),
                     "height": round(height, 2), "title": f"{edges[i]:.3g} … {edges[i + 1]:.3g}: {count}"})
    span = (edges[-1] - edges[0]) or 1.0
    mean_x = left + (right - left) * (distribution["mean"] - edges[0]) / span
    return {"width": HISTOGRAM_WIDTH, "height": HISTOGRAM_HEIGHT, "left": left, "right": right, "top": top, "base": base,
            "bars": bars, "mean_x": round(mean_x, 2), "peak": max(counts)}


def _render_side(manifest: Manifest) -> int:
    """The smallest side the atlas renders at: the size setting, or with "auto" at most the model's input size."""
    size = manifest.settings["size"]
    return size if isinstance(size, int) else manifest.model["input_size"]
