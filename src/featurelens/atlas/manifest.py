"""atlas.json: which model and data an atlas shows, with which settings, and what is built for each layer.

It is rewritten (atomically) after every finished chunk of work, so it always describes files that
exist: an interrupted job leaves a manifest of what finished, and a rerun builds the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from featurelens.capture import LayerInfo
from featurelens.errors import FeaturelensError
from featurelens.geometry import ReceptiveField
from featurelens.atlas.files import MANIFEST, layer_folder, layer_page_path, read_json, write_json

FORMAT = 1


@dataclass
class LayerEntry:
    """One layer of the atlas: its facts, its units (channels with a record and a page), and what is built for them.

    `renders`/`examples`: channels whose visualizations / dataset examples are written; `pass_info`: the
    examples pass over the data for this layer (None until it ran), whose results lie in LAYER/examples.npz.
    """

    name: str
    type: str
    shape: tuple[int, ...]
    field: ReceptiveField
    units: list[int] = field(default_factory=list)
    renders: list[int] = field(default_factory=list)
    examples: list[int] = field(default_factory=list)
    pass_info: dict | None = None

    @classmethod
    def of(cls, info: LayerInfo, receptive_field: ReceptiveField) -> "LayerEntry":
        return cls(info.name, info.type, tuple(info.shape), receptive_field)

    @property
    def channels(self) -> int:
        return self.shape[0]

    @property
    def spatial(self) -> bool:
        return len(self.shape) == 3

    @property
    def folder(self) -> str:
        return layer_folder(self.name)

    def to_dict(self) -> dict:
        return {
            "name": self.name, "folder": self.folder, "page": layer_page_path(self.name), "type": self.type, "shape": list(self.shape),
            "receptive_field": self.field.to_dict(), "units": self.units, "renders": self.renders, "examples": self.examples,
            "pass": self.pass_info,
        }

    @classmethod
    def from_dict(cls, data: dict) -> "LayerEntry":
        return cls(data["name"], data["type"], tuple(data["shape"]), ReceptiveField.from_dict(data["receptive_field"]),
                   list(data["units"]), list(data["renders"]), list(data["examples"]), data["pass"])


@dataclass
class Manifest:
    """The whole atlas.json. `model`: spec, input size, channels, classes; `settings`: the content settings
    (`AtlasSettings.content`) plus the picture format and ranking; `model_layers`: every hookable layer, for the index;
    `projection`: the method the examples' projections use and every method's sanity scores on the model
    (`atlas.sanity.projection_choice`; None until projections are first made)."""

    model: dict
    data: str | None
    settings: dict
    layers: list[LayerEntry] = field(default_factory=list)
    model_layers: list[dict] = field(default_factory=list)
    projection: dict | None = None

    def layer(self, name: str) -> LayerEntry | None:
        return next((entry for entry in self.layers if entry.name == name), None)

    def add_layer(self, entry: LayerEntry) -> None:
        """Insert in network order (the order of `model_layers`)."""
        order = {layer["name"]: i for i, layer in enumerate(self.model_layers)}
        self.layers.append(entry)
        self.layers.sort(key=lambda e: order.get(e.name, len(order)))

    def to_dict(self) -> dict:
        return {"format": FORMAT, "model": self.model, "data": self.data, "settings": self.settings,
                "layers": [entry.to_dict() for entry in self.layers], "model_layers": self.model_layers,
                "projection": self.projection}

    def save(self, folder: Path) -> None:
        write_json(folder / MANIFEST, self.to_dict())

    @classmethod
    def load(cls, folder: Path) -> "Manifest | None":
        """The manifest in `folder`, None if there is none; a one-line error if it is not one this version reads."""
        data = read_json(folder / MANIFEST)
        if data is None:
            return None
        if data.get("format") != FORMAT:
            raise FeaturelensError(f"{folder / MANIFEST} has format {data.get('format')!r}, not {FORMAT}: build the atlas afresh in another folder")
        return cls(data["model"], data["data"], data["settings"], [LayerEntry.from_dict(e) for e in data["layers"]], data["model_layers"],
                   data.get("projection"))
