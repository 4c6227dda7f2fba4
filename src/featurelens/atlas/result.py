"""What an atlas job returns: where the atlas is, what this job built and skipped, where the time went, the site's size."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from featurelens.atlas.files import INDEX, render_path, site_size
from featurelens.results import TechniqueResult

if TYPE_CHECKING:
    from featurelens.atlas.store import AtlasStore, BuildReport


@dataclass
class AtlasResult(TechniqueResult):
    """An atlas job's outcome. `units`: the units the job covered, {layer: channels}; `report`: built/skipped counts and
    seconds per phase (render, examples pass, projections, writing); `site_bytes`/`site_files`: the whole atlas folder."""

    folder: Path
    model: str
    units: dict[str, list[int]]
    report: BuildReport
    site_bytes: int = 0
    site_files: int = 0
    seconds: float = 0.0
    interrupted: bool = False
    store: AtlasStore = field(default=None, repr=False)  # the atlas, open: `store.unit(layer, channel)`

    @property
    def index(self) -> Path:
        return self.folder / INDEX

    @property
    def images(self) -> np.ndarray:
        """uint8 [N, S, S, C]: the max visualization of every covered unit that has one, layer by layer."""
        ext = self.store.manifest.settings["image_format"]
        paths = [self.folder / render_path(layer, c, "max", ext) for layer, channels in self.units.items() for c in channels]
        pictures = [np.asarray(Image.open(path)) for path in paths if path.is_file()]
        pictures = [p[:, :, None] if p.ndim == 2 else p for p in pictures]
        return np.stack(pictures) if pictures else np.zeros((0, 0, 0, 3), np.uint8)

    def summary(self) -> dict:
        r = self.report
        return {
            "atlas": str(self.folder), "model": self.model,
            "layers": {layer: len(channels) for layer, channels in self.units.items()},
            "built": {"renders": r.renders_built, "examples": r.examples_built, "passes": r.passes},
            "skipped": {"renders": r.renders_skipped, "examples": r.examples_skipped},
            "seconds": {**{phase: round(value, 3) for phase, value in r.seconds.items()}, "total": round(self.seconds, 3)},
            "site_bytes": self.site_bytes, "site_files": self.site_files, "interrupted": self.interrupted,
        }

    def save(self, path: str | Path) -> Path:
        """(Re)write the pages in `path`: the atlas's own folder, or a copy of the whole atlas made there. Returns index.html."""
        target = Path(path)
        if target.resolve() != self.folder.resolve():
            shutil.copytree(self.folder, target, dirs_exist_ok=True)
            return target / INDEX
        return self.store.write_pages()
