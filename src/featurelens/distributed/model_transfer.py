"""How the driver's model reaches Ray workers: by its spec (each worker loads it) or pickled through the object store.

A model given as a spec string travels as that string: every worker loads it once per process and
checks that its weights equal the driver's (so every node must have the spec's weights: built-in
models ship in the wheel; zoo caches, user files and TorchScript files must be at the same path).
A `LoadedModel` object travels pickled (cloudpickle, once per job through the object store); its
classes must import on the workers. TorchScript modules do not pickle: give their spec instead.
"""

from __future__ import annotations

import copy
import socket
from dataclasses import dataclass
from typing import Any

from featurelens.errors import FeaturelensError
from featurelens.models import LoadedModel, load_model, weights_digest


@dataclass(frozen=True)
class ModelRecipe:
    """What a worker needs to build the driver's model: `spec`, or `pickled` ([an ObjectRef], kept unresolved by Ray)."""

    spec: str | None
    pickled: list | None
    digest: str  # the driver's weights (`featurelens.models.weights_digest`)

    @property
    def key(self) -> str:
        """Same key, same model: a worker keeps it across jobs (a pickled model is put again by every job)."""
        return self.spec if self.spec is not None else f"pickled:{self.digest}"


def model_recipe(model: LoadedModel, spec: str | None, digest: str | None = None) -> ModelRecipe:
    """The recipe for `model`, given as `spec` (None: a LoadedModel object, sent pickled). Needs a Ray connection."""
    import ray

    digest = digest or weights_digest(model.module)
    if spec is not None:
        return ModelRecipe(spec, None, digest)
    if model.device.type != "cpu":  # workers without this GPU must be able to unpickle it
        model = copy.deepcopy(model).to("cpu")
    try:
        return ModelRecipe(None, [ray.put(model)], digest)
    except Exception as err:  # whatever fails to pickle: say what to do instead
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise FeaturelensError(f"the model object cannot be sent to Ray workers ({first[:200]}): give its spec string "
                               f"(e.g. {model.spec!r}) so that every worker loads it") from None


_LOADED: dict[tuple[str, str], LoadedModel] = {}  # one model per worker process, kept across its tasks


def worker_model(recipe: ModelRecipe, device: str) -> LoadedModel:
    """The model on this worker, loaded (and checked) once per process; a new recipe replaces the old one."""
    key = (recipe.key, device)
    if key not in _LOADED:
        _LOADED.clear()  # bound a long-lived worker's memory to one model
        model = load_model(recipe.spec, device) if recipe.spec is not None else _unpickled(recipe.pickled[0]).to(device)
        if weights_digest(model.module) != recipe.digest:
            raise FeaturelensError(f"the Ray worker on {socket.gethostname()} loaded {recipe.spec!r} with other weights than the "
                                   f"driver's: install the same featurelens and model files on every node")
        _LOADED[key] = model
    return _LOADED[key]


def _unpickled(ref: Any) -> LoadedModel:
    import ray

    return ray.get(ref)
