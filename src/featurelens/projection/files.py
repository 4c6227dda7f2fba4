"""Writing projections: a picture (PNG) or the raw array (.npy) for one, a folder of both for many.

It imports no result type: it reads a projection through the Protocol below, so imports run one way, result → files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Protocol

import numpy as np

from featurelens.errors import FeaturelensError
from featurelens.output.folder_run import listed_in, replacing, write_text_atomic
from featurelens.output.images import safe_filename, save_png


class ProjectionFigures(Protocol):
    """What the writer reads of projections (a `projection.result.ProjectionResult`)."""

    arrays: np.ndarray  # float32 [N, C, H, W]

    @property
    def images(self) -> np.ndarray: ...

    def __len__(self) -> int: ...

    def summary(self) -> dict: ...

FILE_SUFFIXES = (".png", ".npy")


def check_projection_path(path: Path, count: int = 1) -> Path:
    """The path, or an error when it cannot hold `count` projections (checked before any work is done)."""
    suffix = path.suffix.lower()
    if count == 1 and suffix and suffix not in FILE_SUFFIXES:
        raise FeaturelensError(f"cannot write a projection to {str(path)!r}: end {{parameter}} with .png (picture) or .npy (raw array)", parameter="out")
    if count > 1 and suffix in FILE_SUFFIXES:
        raise FeaturelensError(f"{count} projections need a folder, not {str(path)!r}: give {{parameter}} a folder name", parameter="out")
    return path


def write_projections(result: ProjectionFigures, path: Path) -> Path:
    """One projection to a .png or .npy file; otherwise PNG + .npy per projection and projections.json in the folder `path`."""
    check_projection_path(path, len(result))
    if path.suffix.lower() == ".npy":
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, result.arrays[0].astype(np.float32))
        return path
    pictures = result.images
    if path.suffix.lower() == ".png":
        return save_png(pictures[0], path)
    with replacing(path, "project", legacy=listed_in("projections.json", ("png", "npy"))):
        summary = result.summary()
        for i, (entry, picture, array) in enumerate(zip(summary["projections"], pictures, result.arrays)):
            stem = f"{i:03d}_{safe_filename(entry['unit'])}"
            entry["png"], entry["npy"] = f"{stem}.png", f"{stem}.npy"
            save_png(picture, path / entry["png"])
            np.save(path / entry["npy"], array.astype(np.float32))
        return write_text_atomic(path / "projections.json", json.dumps(summary, indent=2))
