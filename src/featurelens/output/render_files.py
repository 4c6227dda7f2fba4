"""Writing a render: one PNG per image, a contact sheet when several, and render.json."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from featurelens.output.images import contact_sheet, safe_filename, save_png

if TYPE_CHECKING:
    from featurelens.rendering.result import RenderResult


def write_render(result: RenderResult, out_dir: Path) -> list[Path]:
    """Write the result under `out_dir`; returns the PNG paths in unit order."""
    out_dir.mkdir(parents=True, exist_ok=True)
    names = [f"{i:03d}_{safe_filename(u.unit)}.png" for i, u in enumerate(result.units)]
    paths = [save_png(u.image, out_dir / name) for u, name in zip(result.units, names)]
    if len(result.units) > 1:
        contact_sheet(list(result.images), unit_labels(result)).save(out_dir / "contact_sheet.png")
    (out_dir / "render.json").write_text(json.dumps(result.summary(names), indent=2))
    return paths


def unit_labels(result: RenderResult) -> list[str]:
    """Each image's caption: the unit, then a line per judge (class probability and rank, or photo distance)."""
    names = short_names(result.judges)
    labels = []
    for unit in result.units:
        lines = [unit.unit]
        for spec, judged in unit.judged.items():
            if judged.probability is not None:
                lines.append(f"{names[spec]} {judged.probability:.2f} #{judged.rank}")
            else:
                lines.append(f"{names[spec]} d{judged.photo_distance:.1f}")
        labels.append("\n".join(lines))
    return labels


def short_names(specs: list[str]) -> dict[str, str]:
    """Judge specs without the leading words they share when all have as many words (efficientnet-lite1,
    efficientnet-lite2 → lite1, lite2)."""
    if len(specs) < 2 or len({spec.count("-") for spec in specs}) > 1:
        return {spec: spec for spec in specs}
    shared = os.path.commonprefix(specs)
    cut = shared.rfind("-") + 1
    return {spec: spec[cut:] or spec for spec in specs}
