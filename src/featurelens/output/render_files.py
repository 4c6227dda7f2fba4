"""Writing a render: one PNG per image, a contact sheet when several, and render.json."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from featurelens.output.images import contact_sheet, enlarged, safe_filename, save_png

if TYPE_CHECKING:
    from featurelens.rendering.result import RenderResult

SHEET_TILE = 96  # smaller renders are enlarged (pixels repeated) on the contact sheet so their captions fit


def write_render(result: RenderResult, out_dir: Path) -> list[Path]:
    """Write the result under `out_dir`; returns the PNG paths in unit order."""
    out_dir.mkdir(parents=True, exist_ok=True)
    names = [f"{i:03d}_{safe_filename(u.unit)}.png" for i, u in enumerate(result.units)]
    paths = [save_png(u.image, out_dir / name) for u, name in zip(result.units, names)]
    if len(result.units) > 1:
        contact_sheet(enlarged(result.images, SHEET_TILE), unit_labels(result)).save(out_dir / "contact_sheet.png")
    (out_dir / "render.json").write_text(json.dumps(result.summary(names), indent=2))
    return paths


def unit_labels(result: RenderResult) -> list[str]:
    """Each image's caption: the unit, then a line per judge (class probability and rank, or photo distance)."""
    names = short_names(result.judges, result.model)
    labels = []
    for unit in result.units:
        lines = [unit.unit]
        for spec, judged in unit.judged.items():
            if judged.probability is not None:
                lines.append(f"{names[spec]}: {judged.probability:.2f} #{judged.rank}")
            else:
                lines.append(f"{names[spec]}: d {judged.photo_distance:.1f}")
        labels.append("\n".join(lines))
    return labels


def short_names(specs: list[str], model: str = "") -> dict[str, str]:
    """Judge specs, shortened: after the rendered model's name when they extend it (fashion-cnn-seed1 → seed1),
    else without the leading words all judges share when they have as many words (efficientnet-lite1, -lite2 → lite1, lite2)."""
    names = {spec: spec for spec in specs}
    if len(specs) >= 2 and len({spec.count("-") for spec in specs}) == 1:
        cut = os.path.commonprefix(specs).rfind("-") + 1
        names = {spec: spec[cut:] or spec for spec in specs}
    if model:
        names.update({spec: spec[len(model) + 1:] for spec in specs if spec.startswith(model + "-")})
    return names
