"""Writing a render: one PNG per image, a contact sheet when several, and render.json."""

from __future__ import annotations

import json
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
        contact_sheet(list(result.images), [u.unit for u in result.units]).save(out_dir / "contact_sheet.png")
    (out_dir / "render.json").write_text(json.dumps(result.summary(names), indent=2))
    return paths
