"""The layers an examples pass ranks and the knobs it ranks by, checked before any entry is read."""

from __future__ import annotations

from typing import Sequence

from featurelens.capture import LOGIT, find_layer, probe
from featurelens.dataset_examples.topk import REDUCES
from featurelens.errors import FeaturelensError, bad_parameter, require_positive
from featurelens.models import LoadedModel
from featurelens.models.input_sizes import check_accepted


def layer_names(model: LoadedModel, layers: Sequence[str] | str) -> list[str]:
    """The layers asked for ("a,b" or a list), each checked to exist (unknown names fail with the closest ones)."""
    names = [n.strip() for n in layers.split(",")] if isinstance(layers, str) else [str(n).strip() for n in layers]
    names = list(dict.fromkeys(n for n in names if n))
    if not names:
        raise bad_parameter("layers", "names none: give at least one, e.g. conv2 (see `featurelens layers`)")
    for name in names:
        if name != LOGIT:
            find_layer(model.module, name)
    return names


def check_settings(k: int, reduce: str, batch_size: int, limit: int | None) -> None:
    """Cheap checks of the ranking knobs, each a one-line error naming its parameter."""
    if not isinstance(k, int) or k <= 0:
        raise bad_parameter("k", f"must be a positive number of examples per unit, got {k}")
    if reduce not in REDUCES:
        raise FeaturelensError(f"unknown {{parameter}} {reduce!r}: use {' or '.join(REDUCES)}", parameter="reduce")
    require_positive("batch_size", batch_size)
    if limit is not None:
        require_positive("limit", limit)


def layer_shapes(model: LoadedModel, names: list[str], size: int) -> dict[str, tuple[int, ...]]:
    """Output shape (without batch) of each layer, from the model's probe; only [C], [C, L] and [C, H, W] rank."""
    check_accepted(model, size, names)
    found = probe(model, size)
    known = found.shapes()
    shapes = {}
    for name in names:
        if name not in known:
            reason = found.unreachable(name, model.spec)
            raise FeaturelensError(reason or f"layer {name!r} produces no tensor in the forward pass: pick another (see `featurelens layers`)")
        shape = known[name]
        if not 1 <= len(shape) <= 3:
            raise FeaturelensError(f"layer {name!r} has output shape {shape}: pick a layer with [C], [C, L] or [C, H, W] outputs")
        shapes[name] = shape
    return shapes
