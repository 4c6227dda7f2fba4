"""Files of a model atlas: where each one lives, and writes that readers never see half done.

Layout (every path relative to the atlas folder, '/'-separated, so the same string is a file path
and a URL relative to the atlas root; LAYER is `safe_filename(layer)`):

  atlas.json                             the manifest: model, data, settings, layers and what is built
  index.html, style.css                  the atlas index and the one style sheet
  inputs/<ENTRY>.<ext>                   each example input once, as the model saw it
  LAYER/index.html                       the layer page: a grid of its units
  LAYER/<C>.html, LAYER/<C>.json         the unit page and the unit record
  LAYER/renders/<C>-max.<ext>            visualizations: max, min, diverse<I>
  LAYER/crops/<C>-<KIND><RANK>.<ext>     the part of an example input the unit saw
  LAYER/projections/<C>-max<RANK>.<ext>  the projection of a top example, cropped the same way
  LAYER/examples.npz                     the pass's rankings and score histograms for every channel of the layer

Photos are stored as JPEG; line art (1-channel or small inputs, e.g. 28×28 Fashion-MNIST) as PNG.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from featurelens.output.images import safe_filename, to_pil

MANIFEST = "atlas.json"
INDEX = "index.html"
STYLE = "style.css"
INPUTS = "inputs"
JPEG_QUALITY = 90
LINE_ART_BELOW = 64  # inputs smaller than this (in pixels) are stored losslessly


def picture_format(in_channels: int, input_size: int) -> str:
    """"png" for line art (one channel, or inputs below 64 px), else "jpg"."""
    return "png" if in_channels == 1 or input_size < LINE_ART_BELOW else "jpg"


def layer_folder(layer: str) -> str:
    return safe_filename(layer)


def layer_page_path(layer: str) -> str:
    return f"{layer_folder(layer)}/{INDEX}"


def unit_page_path(layer: str, channel: int) -> str:
    return f"{layer_folder(layer)}/{channel}.html"


def record_path(layer: str, channel: int) -> str:
    return f"{layer_folder(layer)}/{channel}.json"


def pass_path(layer: str) -> str:
    return f"{layer_folder(layer)}/examples.npz"


def render_path(layer: str, channel: int, name: str, ext: str) -> str:
    """`name`: "max", "min" or "diverse<I>"."""
    return f"{layer_folder(layer)}/renders/{channel}-{name}.{ext}"


def input_path(index: int, ext: str) -> str:
    return f"{INPUTS}/{index:07d}.{ext}"


def crop_path(layer: str, channel: int, kind: str, rank: int, ext: str) -> str:
    return f"{layer_folder(layer)}/crops/{channel}-{kind}{rank:02d}.{ext}"


def projection_path(layer: str, channel: int, rank: int, ext: str) -> str:
    return f"{layer_folder(layer)}/projections/{channel}-max{rank:02d}.{ext}"


def save_picture(image: np.ndarray, path: Path) -> None:
    """uint8 [H, W, C] as PNG or JPEG by the path's suffix, written under a temporary name and then renamed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".part")
    picture = to_pil(np.ascontiguousarray(image))
    if path.suffix == ".png":
        picture.save(temporary, format="PNG", compress_level=6)
    else:
        picture.convert("RGB").save(temporary, format="JPEG", quality=JPEG_QUALITY)
    os.replace(temporary, path)


def write_text(path: Path, text: str) -> bool:
    """Write `text` atomically unless the file already holds it (so rewriting an unchanged page keeps its time); True if written."""
    try:
        if path.read_text() == text:
            return False
    except (FileNotFoundError, UnicodeDecodeError):
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".part")
    temporary.write_text(text)
    os.replace(temporary, path)
    return True


def write_json(path: Path, data: dict) -> bool:
    return write_text(path, json.dumps(data, indent=1) + "\n")


def read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None


def save_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """An .npz file, written atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".part.npz")
    np.savez(temporary, **arrays)
    os.replace(temporary, path)


def site_size(folder: Path) -> tuple[int, int]:
    """(bytes, files) of everything under `folder`."""
    total, count = 0, 0
    for root, _, files in os.walk(folder):
        for name in files:
            total += os.path.getsize(os.path.join(root, name))
            count += 1
    return total, count
