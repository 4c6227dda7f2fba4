"""The core every technique's result shares, so a user who knows one result knows them all.

`.images` (uint8 N×H×W×C, ready to show), `.summary()` (a JSON-ready dict), `.seconds`,
`.interrupted`, and `.save(path)`, which writes what the command line writes. In a notebook a
result shows itself as a contact sheet of its images.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from featurelens.output.images import contact_sheet


class TechniqueResult:
    """Base of every result; subclasses are dataclasses with `seconds` and `interrupted` fields."""

    seconds: float
    interrupted: bool

    @property
    def images(self) -> np.ndarray:
        raise NotImplementedError

    def summary(self) -> dict:
        raise NotImplementedError

    def save(self, path: str | Path) -> Path:
        raise NotImplementedError

    def contact_sheet(self, columns: int | None = None) -> Image.Image:
        """All `.images` tiled in one picture."""
        return contact_sheet(list(self.images), columns=columns)

    def _repr_png_(self) -> bytes | None:
        if len(self.images) == 0:
            return None
        buffer = io.BytesIO()
        self.contact_sheet().save(buffer, format="PNG")
        return buffer.getvalue()
