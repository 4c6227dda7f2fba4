"""PNG writing and contact sheets."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw


def to_pil(image: np.ndarray) -> Image.Image:
    """uint8 [H, W, C] (C = 1 or 3) → PIL image."""
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    return Image.fromarray(image)


def save_png(image: np.ndarray, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    to_pil(image).save(path, format="PNG")
    return path


def safe_filename(text: str, limit: int = 60) -> str:
    """A unit address made safe for file names: `_blocks.8:12@3,4` → `_blocks.8-12-3-4`."""
    cleaned = re.sub(r"[^\w.]+", "-", text).strip("-")
    return cleaned[:limit] or "unit"


def contact_sheet(images: list[np.ndarray], labels: list[str] | None = None, columns: int | None = None, pad: int = 4) -> Image.Image:
    """Tile images in a grid (labels under each when given) on a white background."""
    count = len(images)
    columns = columns or math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    height, width = images[0].shape[:2]
    label_height = 14 if labels else 0
    sheet = Image.new("RGB", (columns * (width + pad) + pad, rows * (height + pad + label_height) + pad), "white")
    draw = ImageDraw.Draw(sheet)
    for i, image in enumerate(images):
        row, col = divmod(i, columns)
        x = pad + col * (width + pad)
        y = pad + row * (height + pad + label_height)
        sheet.paste(to_pil(image).convert("RGB"), (x, y))
        if labels:
            draw.text((x, y + height + 1), labels[i][: max(4, width // 6)], fill="black")
    return sheet
