"""What an atlas does its own way for a kind of input, and what those parts read of the atlas being built.

`ModalityParts` is one modality's way of building an atlas: `atlas.images.ImageParts`, `atlas.audio.SoundParts`,
picked by `LoadedModel.modality.name` in `atlas.store.PARTS`, so the store never asks what kind of model it has.
`AtlasBuild` is what the parts read and call of the store (an `atlas.store.AtlasStore`): imports run one way,
store → images and audio → parts.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from featurelens.geometry import ReceptiveField
from featurelens.models import LoadedModel
from featurelens.progress import ProgressArg

if TYPE_CHECKING:
    from featurelens.atlas.manifest import LayerEntry, Manifest
    from featurelens.atlas.pages import AtlasPages
    from featurelens.atlas.settings import AtlasSettings
    from featurelens.data.sources import ImageSource


class BuildCounts(Protocol):
    """Where a build counts what it did and adds the seconds of each phase (an `atlas.store.BuildReport`)."""

    renders_built: int
    examples_built: int
    examples_skipped: int
    passes: int

    def timing(self, phase: str) -> AbstractContextManager[None]: ...


class AtlasBuild(Protocol):
    """What the parts read of the atlas being built, and how they hand it what they made (an `atlas.store.AtlasStore`)."""

    folder: Path
    model: LoadedModel
    manifest: Manifest
    settings: AtlasSettings
    report: BuildCounts
    pages: AtlasPages

    def judges(self) -> tuple[LoadedModel, ...]: ...

    def source(self) -> ImageSource: ...

    def update_records(self, entry: LayerEntry, parts: dict[int, dict]) -> None: ...

    def write_unit_pages(self, entry: LayerEntry, channels: set[int]) -> None: ...

    def store_renders(self, entry: LayerEntry, parts: dict[int, dict]) -> None: ...


class ModalityParts(Protocol):
    """One modality's way of building an atlas: how a layer's fields are measured, how chunks of units are rendered and
    written, how their examples are found and written, and what the manifest says of the model besides its spec."""

    def fields(self, model: LoadedModel, layers: list[str]) -> dict[str, ReceptiveField]: ...

    def render(self, store: AtlasBuild, entry: LayerEntry, chunks: list[list[int]], progress: ProgressArg) -> None: ...

    def examples(self, store: AtlasBuild, entries: list[LayerEntry], progress: ProgressArg) -> None: ...

    def summary(self, model: LoadedModel) -> dict: ...
