"""What a render must beat: the best input of a data source on the render's own objective.

`data_best` streams the source once through the model and keeps, per unit expression, the highest
value any item gives and that item's index (a minimized unit `-A` keeps the lowest A, negated). The
figures are cached per weights (`model_cache`): a second command on the same model, data and size
reads them. A pass for a plain channel stores every channel of its layer, both ways, so the next
command on other channels of the layer reads them too.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from featurelens.capture import ActivationCapture
from featurelens.data.sources import ImageSource
from featurelens.model_cache import ModelCache
from featurelens.models import LoadedModel
from featurelens.units import Unit, UnitExpression, expression_value, layers_needed
from featurelens.units.directions import unit_direction

CACHE_NAME = "data-best"
CACHE_VERSION = 1  # raise when what is computed changes: older entries then miss
BATCH = 256


@dataclass(frozen=True)
class DataBest:
    """The highest value of an expression over a source's items, and the index of the item that gives it."""

    value: float
    index: int


def cache_key(model: LoadedModel, source: ImageSource, size: int) -> dict | None:
    """What the cached figures depend on besides the weights; None when the source cannot say when it changes."""
    fingerprint = source.fingerprint()
    if fingerprint is None:
        return None
    return {"version": CACHE_VERSION, "source": fingerprint, "size": size, "channels": model.in_channels,
            "mean": list(model.mean), "std": list(model.std)}


def cached_best(cache: ModelCache | None, key: dict | None) -> tuple[dict, float | None]:
    """(expression text → [value, index], seconds the pass took) stored for `key`; empty when nothing is."""
    stored = cache.read(CACHE_NAME, key) if cache is not None and key is not None else None
    if not isinstance(stored, dict) or not isinstance(stored.get("best"), dict):
        return {}, None
    return stored["best"], stored.get("seconds")


def data_best(
    model: LoadedModel, source: ImageSource, targets: list[UnitExpression], size: int, cache: ModelCache | None = None,
) -> dict[UnitExpression, DataBest]:
    """Each distinct target's best item of `source` seen at `size` px; one pass for those the cache lacks."""
    key = cache_key(model, source, size)
    known, _ = cached_best(cache, key)
    missing = [t for t in dict.fromkeys(targets) if not _valid(known.get(str(t))) or _reads_a_file(t)]
    file_read = {str(t) for t in missing if _reads_a_file(t)}
    if missing:
        started = time.perf_counter()
        known = {**known, **_stream(model, source, missing, size)}
        if cache is not None and key is not None:
            kept = {text: value for text, value in known.items() if text not in file_read}  # never read back: not stored
            cache.write(CACHE_NAME, key, {"best": kept, "seconds": time.perf_counter() - started, "items": len(source)})
    return {t: DataBest(float(known[str(t)][0]), int(known[str(t)][1])) for t in dict.fromkeys(targets)}


def _reads_a_file(target: UnitExpression) -> bool:
    """A direction unit names a .npy file whose content may change under the same name: never read from the cache."""
    return any(unit.direction is not None for _, unit in target.terms)


def _valid(entry) -> bool:
    return isinstance(entry, list) and len(entry) == 2 and all(isinstance(x, (int, float)) for x in entry)


@torch.no_grad()
def _stream(model: LoadedModel, source: ImageSource, targets: list[UnitExpression], size: int) -> dict[str, list]:
    """One pass over `source`: expression text → [best value, its index], for `targets` and both ways of every
    channel of their plain-channel layers."""
    layers = layers_needed(targets)
    whole = [layer for layer in layers if any(_plain_channel(t, layer) for t in targets)]  # every channel, both ways
    named = {str(t): t for t in targets if not any(_plain_channel(t, layer) for layer in whole)}  # the rest come with their layer
    directions: dict[str, list[str]] = {}  # layer → texts of its plain direction units: one product per batch for all
    for text, target in named.items():
        if _plain_direction(target):
            directions.setdefault(target.terms[0][1].layer, []).append(text)
    alone = {text: target for text, target in named.items() if not _plain_direction(target)}
    best: dict = {}  # expression text or (sign, layer) → (best values [K], item indices [K])

    def keep(name, values: torch.Tensor, indices: torch.Tensor) -> None:
        """Fold a batch's values [B, K] (K expressions under one name) into the running best."""
        top, where = values.max(0)
        found = indices[where]
        if name in best:
            better = top > best[name][0]
            top, found = torch.where(better, top, best[name][0]), torch.where(better, found, best[name][1])
        best[name] = (top, found)

    with ActivationCapture(model.module, layers) as capture:
        for batch in source.batches(0, None, BATCH, model.in_channels, size):
            acts = capture.run(model.normalize(batch.images.to(model.device)))
            indices = batch.indices.to(model.device)
            for name, target in alone.items():
                keep(name, expression_value(target, acts).float()[:, None], indices)
            means = {layer: _channel_means(acts[layer]) for layer in {*directions, *whole}}  # once per layer
            for layer, texts in directions.items():
                matrix = torch.stack([unit_direction(named[text].terms[0][1].direction, means[layer]) for text in texts], 1)
                keep(("dir", layer), means[layer] @ matrix, indices)
            for layer in whole:
                keep(("", layer), means[layer], indices)  # tuple keys: never an expression's text
                keep(("-", layer), -means[layer], indices)
    found = {name: [float(best[name][0][0]), int(best[name][1][0])] for name in alone}
    for layer, texts in directions.items():
        values, items = best[("dir", layer)]
        found.update({text: [value, index] for text, value, index in zip(texts, values.tolist(), items.tolist())})
    for layer in whole:
        for sign in ("", "-"):
            values, items = best[(sign, layer)]
            for channel, (value, index) in enumerate(zip(values.tolist(), items.tolist())):
                found.setdefault(f"{sign}{layer}:{channel}", [value, index])
    return found


def _channel_means(activation: torch.Tensor) -> torch.Tensor:
    """[B, C]: each channel's mean over positions, the value a channel unit (and a direction, projected) renders for."""
    act = activation.float()
    return act.flatten(2).mean(2) if act.dim() > 2 else act


def _plain_direction(target: UnitExpression) -> bool:
    """Whether `target` is 1 × one direction unit over a whole layer (what one matrix product per layer covers)."""
    return len(target.terms) == 1 and target.terms[0][0] == 1 and target.terms[0][1].direction is not None


def _plain_channel(target: UnitExpression, layer: str) -> bool:
    """Whether `target` is ±1 × one channel of `layer` (what the whole-layer figures cover)."""
    if len(target.terms) != 1:
        return False
    weight, unit = target.terms[0]
    return abs(weight) == 1 and unit == Unit(layer, unit.channel) and unit.channel is not None
