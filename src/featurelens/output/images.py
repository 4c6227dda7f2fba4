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


def same_size(images: list[np.ndarray]) -> np.ndarray:
    """uint8 [H, W, C] pictures of any sizes as one [N, S, S, C] array: smaller ones scaled up (bilinear) to the largest."""
    side = max(image.shape[0] for image in images)
    scaled = [
        image if image.shape[0] == side else np.asarray(to_pil(image).resize((side, side), Image.BILINEAR)).reshape(side, side, image.shape[2])
        for image in images
    ]
    return np.stack(scaled)


def enlarged(images: np.ndarray, minimum: int) -> list[np.ndarray]:
    """uint8 [N, H, W, C] pictures with each pixel repeated so their side reaches at least `minimum` (crisp, no smoothing)."""
    factor = -(-minimum // images.shape[1]) if len(images) else 1
    return [image.repeat(factor, 0).repeat(factor, 1) if factor > 1 else image for image in images]


def safe_filename(text: str, limit: int = 60) -> str:
    """A unit address made safe for file names: `_blocks.8:12@3,4` → `_blocks.8-12-3-4`."""
    cleaned = re.sub(r"[^\w.]+", "-", text).strip("-")
    return cleaned[:limit] or "unit"


def contact_sheet(images: list[np.ndarray], labels: list[str] | None = None, columns: int | None = None, pad: int = 4) -> Image.Image:
    """Tile images in a grid (labels under each when given, one or more lines) on a white background."""
    count = len(images)
    columns = columns or math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    height, width = images[0].shape[:2]
    lines = max((label.count("\n") + 1 for label in labels), default=1) if labels else 0
    label_height = 14 if lines == 1 else 12 * lines + 2
    sheet = Image.new("RGB", (columns * (width + pad) + pad, rows * (height + pad + label_height) + pad), "white")
    draw = ImageDraw.Draw(sheet)
    for i, image in enumerate(images):
        row, col = divmod(i, columns)
        x = pad + col * (width + pad)
        y = pad + row * (height + pad + label_height)
        sheet.paste(to_pil(image).convert("RGB"), (x, y))
        if labels:
            shown = "\n".join(line[: max(4, width // 6)] for line in labels[i].split("\n"))
            draw.text((x, y + height + 1), shown, fill="black", spacing=1)
    return sheet
