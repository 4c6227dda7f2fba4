"""The knobs of an atlas, and which of them decide its content (those must stay the same when an atlas grows)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from featurelens.data.sources import BUILTIN_SOURCES
from featurelens.engine import check_engine
from featurelens.errors import FeaturelensError, bad_parameter, require_positive
from featurelens.models import LoadedModel
from featurelens.projection.rectifiers import check_method
from featurelens.rendering.sizes import AUTO, SMALL_SIZE

ALL = "all"
DIVERSITY = 100.0  # weight of Lucid's diversity term in the diverse set (spatial layers)
DISTRIBUTION_SAMPLE = 1000  # per-image scores kept per channel for its histogram (every image of a smaller source)
HISTOGRAM_BINS = 32
REDUCE = "max"  # examples are ranked by the channel's spatial peak (trough for the bottom ones)
SPATIAL_SCORE = "spatial peak"  # what that score is called on the pages (layers without a map: the "value")
AUTO_PROJECTION = "auto"  # the projection method that passes the sanity check best on the model (`projection.sanity`)


@dataclass(frozen=True)
class AtlasSettings:
    """Knobs of an atlas job. `units`: the first N channels of each layer, or "all". `size`: render side
    (default None: `render`'s automatic size, the input size for units that see the whole input, else 128 px). `diverse`: images in each unit's diverse set. `project`:
    "auto" (the method that passes the sanity check best on this model, measured once per atlas), "deconvnet",
    "guided", "gradient" or None. `limit`: use the first N entries of the data. `engine` "ray" renders
    on Ray workers (`address`, `workers` as for `render`), with the same images; they never change the content.
    `judge`: model specs that judge the images as `render --judge` does (figures on the unit pages)."""

    units: int | str = 16
    steps: int = 256
    size: int | None = None
    k: int = 9
    diverse: int = 4
    project: str | None = AUTO_PROJECTION
    out: str | Path = "atlas"
    limit: int | None = None
    seed: int = 0
    max_batch: int = 64
    engine: str = "local"
    address: str | None = None
    workers: int | None = None
    judge: tuple[str | LoadedModel, ...] = ()  # models (specs or loaded) that judge each unit's max image (class transfer, photo distance)

    def check(self) -> None:
        unit_count(self.units)
        check_engine(self.engine, self.address, self.workers)
        require_positive("steps", self.steps)
        if self.size is not None:
            require_positive("size", self.size)
        if not isinstance(self.k, int) or self.k <= 0:
            raise bad_parameter("k", f"must be a positive number of examples per unit, got {self.k}")
        require_positive("diverse", self.diverse, allow_zero=True)
        if self.project not in (None, AUTO_PROJECTION):
            check_method(self.project)
        if self.limit is not None:
            require_positive("limit", self.limit)
        require_positive("max_batch", self.max_batch)

    def for_model(self, model: LoadedModel) -> "AtlasSettings":
        """The settings as `model` can use them: its modality says whether units get a diverse set and projections
        (an audio model's units get a max and a min sound, neither)."""
        modality = model.modality
        return replace(self, diverse=self.diverse if modality.renders_diverse else 0, project=self.project if modality.projects else None)

    def render_size(self, model: LoadedModel) -> int:
        """The side layers are checked at (the smallest any unit renders at)."""
        return self.size or min(model.input_size, SMALL_SIZE)

    def render_setting(self) -> int | str:
        """`RenderSettings.size` for the atlas's renders."""
        return self.size or AUTO

    def content(self, model: LoadedModel) -> dict:
        """The settings that decide what the atlas holds: stored in atlas.json and compared when it is reopened."""
        return {"steps": self.steps, "size": self.render_setting(), "k": self.k, "diverse": self.diverse,
                "project": self.project, "limit": self.limit, "seed": self.seed}

    @classmethod
    def from_content(cls, content: dict) -> "AtlasSettings":
        found = {name: content[name] for name in ("steps", "size", "k", "diverse", "project", "limit", "seed")}
        return cls(**{**found, "size": None if found["size"] == AUTO else found["size"]})


def unit_count(units: int | str) -> int | None:
    """How many channels per layer: a positive int (also as text), or None for "all"."""
    if units == ALL:
        return None
    if isinstance(units, str) and units.strip().isdigit():
        units = int(units)
    if isinstance(units, bool) or not isinstance(units, int) or units <= 0:
        raise bad_parameter("units", f"must be a positive number of channels per layer or 'all', got {units!r}")
    return units


def data_spec(data: str | Path | None, model: LoadedModel) -> str | None:
    """The data source as the atlas stores it, as the model's modality says (a built-in name, or a folder's absolute
    path: of images, or for an audio model "music" or a folder of audio files); one-line error if missing."""
    if data is None:
        return None
    if not isinstance(data, (str, Path)):
        raise FeaturelensError(f"{{parameter}} of an atlas is a folder or a built-in source ({', '.join(BUILTIN_SOURCES)}), "
                               f"not a {type(data).__name__}: the atlas reads its examples again later", parameter="data")
    return model.modality.stored_data(data)
