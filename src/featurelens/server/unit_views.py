"""A unit's stored views — visualizations, dataset examples, distribution — read from the atlas folder, and
the background jobs that build what is missing into the same folder, so the next visit is instant.

Reading needs no model (records are files); building opens an `AtlasStore` on a copy of the live model
(the live view keeps its own, whose hooks belong to frames) in the job thread.
"""

from __future__ import annotations

import copy
import threading
from pathlib import Path

from featurelens.atlas import AtlasStore
from featurelens.capture import probe
from featurelens.errors import FeaturelensError
from featurelens.models import LoadedModel
from featurelens.atlas.files import read_json, record_path
from featurelens.output.images import safe_filename
from featurelens.server.jobs import JobRunner
from featurelens.units.resolve import channel_out_of_range

ATLAS_URL = "/atlas/"


class UnitViews:
    """Views of units of `model` in the atlas `folder`, built on demand from `data`."""

    def __init__(self, model: LoadedModel, data: str, folder: Path, jobs: JobRunner, model_lock: threading.Lock | None = None):
        self.model = model
        self.data = data
        self.folder = folder
        self.jobs = jobs
        self._store: AtlasStore | None = None
        self._opening = threading.Lock()
        self._model_lock = model_lock or threading.Lock()  # held by whoever runs `model` (the live session)

    def view(self, layer: str, channel: int) -> dict:
        """What the page shows for a unit: its record (paths under /atlas/), what is missing, and its jobs."""
        self.check(layer, channel)
        record = read_json(self.folder / record_path(layer, channel))
        missing = []
        if (record is None or not (record.get("renders") or {}).get("max")) and self.model.modality.renders:
            missing.append("renders")
        if record is None or not record.get("examples"):
            missing.append("examples")
        return {
            "layer": layer, "channel": channel, "missing": missing, "base": ATLAS_URL, "record": record,
            "jobs": [job.status() for job in self.jobs.active(f"{layer}:{channel}:")],
        }

    def build(self, layer: str, channel: int, client: str = "") -> dict:
        """Queue the jobs that build what the unit lacks (its renders, and its layer's examples pass) for `client`;
        `Busy` when the job queue is full."""
        view = self.view(layer, channel)
        if "renders" in view["missing"]:
            self.jobs.submit(f"{layer}:{channel}:renders", f"rendering {layer}:{channel}",
                             lambda progress: self.store().ensure_renders(layer, [channel], progress), client)
        if "examples" in view["missing"]:
            self.jobs.submit(f"{layer}:{channel}:examples", f"dataset examples of {layer}:{channel} from {self.data}",
                             lambda progress: self.store().ensure_examples(layer, progress, channels=[channel]), client)
        return self.view(layer, channel)

    def check(self, layer: str, channel: int) -> None:
        """A layer of the model and one of its channels, or a one-line error."""
        shapes = probe(self.model, self.model.input_size).shapes()
        if layer not in shapes:
            raise FeaturelensError(f"no layer {layer!r} in {self.model.spec}: pick one from the page's layer list")
        channels = shapes[layer][0]
        if not 0 <= channel < channels:
            raise channel_out_of_range(layer, channel, channels)

    def store(self) -> AtlasStore:
        """The atlas, opened once (in the job thread) on a copy of the model."""
        with self._opening:
            if self._store is None:
                with self._model_lock:  # a module copied mid-frame would carry that frame's capture hooks
                    model = copy.deepcopy(self.model)
                self._store = AtlasStore.open(self.folder, model, self.data)
            return self._store


def default_atlas_folder(model: LoadedModel, data: str) -> Path:
    """Where the server keeps what it builds when no atlas was given: ~/.cache/featurelens/atlas/MODEL-DATA."""
    return Path("~/.cache/featurelens/atlas").expanduser() / f"{safe_filename(model.spec)}-{safe_filename(str(data))}"
