"""Writing a render: one PNG per image (and a WAV per sound, for an audio model), a contact sheet when several, and render.json.

A render into a folder replaces the previous render there as a whole (`folder_run.replacing`), so the
PNGs, the sheet (or its absence, for one image) and render.json always describe the same run.

It imports no result type: it reads a render through the Protocols below, so imports run one way, result → files."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, Sequence

from featurelens.output.folder_run import listed_in, replacing, write_text_atomic
from featurelens.output.images import contact_sheet, enlarged, safe_filename, save_png
from featurelens.output.sound import write_wav

if TYPE_CHECKING:
    import numpy as np

    from featurelens.rendering.judging import Judgement


class HeardSound(Protocol):
    """What the writer reads of a rendered unit's sound (a `rendering.result.Sound`)."""

    waveform: np.ndarray  # float32 [samples]


class RenderedImage(Protocol):
    """What the writer reads of one rendered unit (a `rendering.result.RenderedUnit`)."""

    unit: str
    image: np.ndarray  # uint8 [H, W, C]
    judged: dict[str, Judgement]
    sound: HeardSound | None


class RenderFigures(Protocol):
    """What the writer reads of a render (a `rendering.result.RenderResult`)."""

    judges: list[str]
    model: str
    sample_rate: int | None

    @property
    def units(self) -> Sequence[RenderedImage]: ...

    @property
    def images(self) -> np.ndarray: ...

    def summary(self, png_names: list[str] | None = None) -> dict: ...


SHEET_TILE = 96  # smaller renders are enlarged (pixels repeated) on the contact sheet so their captions fit


SHEET = "contact_sheet.png"
PREVIOUS_RENDER = listed_in("render.json", ("png", "wav"), extra=(SHEET,))


def write_render(result: RenderFigures, out_dir: Path) -> list[Path]:
    """Write the result under `out_dir`, replacing a previous render there; returns the PNG paths in unit order."""
    with replacing(out_dir, "render", legacy=PREVIOUS_RENDER):
        names = [f"{i:03d}_{safe_filename(u.unit)}.png" for i, u in enumerate(result.units)]
        paths = [save_png(u.image, out_dir / name) for u, name in zip(result.units, names)]
        for unit, name in zip(result.units, names):
            if unit.sound is not None and result.sample_rate is not None:
                write_wav(out_dir / (name[:-4] + ".wav"), unit.sound.waveform, result.sample_rate)
        if len(result.units) > 1:
            contact_sheet(enlarged(result.images, SHEET_TILE), unit_labels(result)).save(out_dir / SHEET)
        write_text_atomic(out_dir / "render.json", json.dumps(result.summary(names), indent=2))
    return paths


def unit_labels(result: RenderFigures) -> list[str]:
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
