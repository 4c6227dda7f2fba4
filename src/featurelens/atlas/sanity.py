"""Which projection an atlas shows: every method's sanity score on the model (`projection.sanity`), measured once.

The check runs on the deepest layer with a map among the atlas's default layers (where projections go through most
of the network), with the first entries of the atlas's own data (the bundled photos when it has fewer than two).
The manifest keeps the answer, so every example of the atlas is projected by the same method.
"""

from __future__ import annotations

import torch

from featurelens.atlas.layers import atlas_layers
from featurelens.atlas.settings import AUTO_PROJECTION
from featurelens.data.sources import ImageSource
from featurelens.errors import FeaturelensError
from featurelens.models import LoadedModel
from featurelens.photos import photo_batch
from featurelens.projection.sanity import INPUTS, UNITS, sanity_layer, sanity_scores
from featurelens.quick import cap


def projection_choice(model: LoadedModel, source: ImageSource | None, data: str | None, requested: str, render_size: int,
                      limit: int | None = None) -> dict:
    """The manifest's `projection`: {"method": the one the examples use, "requested": "auto" or a method, "data": what
    the check projected, "sanity": `SanityResult.to_dict()`}. "auto" takes the best method that passes. The inputs are
    the first entries of `source` (within `limit`)."""
    layer = check_layer(model, render_size)
    images = _first_entries(source, model, limit) if source is not None else []
    used = data if len(images) >= 2 else "photos"
    batch = torch.stack(images) if len(images) >= 2 else photo_batch(model.input_size, model.in_channels)
    found = sanity_scores(model, batch, layer, inputs=cap("sanity_inputs", INPUTS), units=cap("sanity_units", UNITS))
    method = found.chosen if requested == AUTO_PROJECTION else requested
    return {"method": method, "requested": requested, "data": used, "sanity": found.to_dict()}


def check_layer(model: LoadedModel, render_size: int) -> str:
    """The deepest default atlas layer with an H×W > 1 map; the model's deepest such layer with weights when none is."""
    spatial = [info.name for info in atlas_layers(model, None, render_size) if len(info.shape) == 3 and info.shape[1] * info.shape[2] > 1]
    return spatial[-1] if spatial else sanity_layer(model)


def record_part(projection: dict) -> dict:
    """What a unit record says of its projections: the method, how it was chosen, and each method's score and verdict."""
    return {"method": projection["method"], "requested": projection["requested"],
            "scores": {s["method"]: s["score"] for s in projection["sanity"]["scores"]},
            "passes": {s["method"]: s["passes"] for s in projection["sanity"]["scores"]}}


def _first_entries(source: ImageSource, model: LoadedModel, limit: int | None) -> list[torch.Tensor]:
    """Up to INPUTS readable entries from the front of `source`, as the model reads them ([C, S, S] in [0, 1])."""
    found = []
    for index in range(min(len(source), limit or len(source))):
        if len(found) == INPUTS:
            break
        try:
            found.append(source.image(index, model.in_channels, model.input_size))
        except FeaturelensError:  # an entry the pass skipped: take the next one
            continue
    return found
