"""Which layers an atlas covers: the default blocks, every spatial layer ("all"), or names; each with its shape."""

from __future__ import annotations

from typing import Sequence

from featurelens.atlas.settings import ALL
from featurelens.capture import LOGIT, LayerInfo, probe
from featurelens.capture.layers import unknown_layer_message
from featurelens.errors import FeaturelensError, bad_parameter
from featurelens.models import LoadedModel
from featurelens.atlas.files import INPUTS, layer_folder
from featurelens.overviews import default_layers

LayersInput = Sequence[str] | str | None


def atlas_layers(model: LoadedModel, layers: LayersInput, render_size: int) -> list[LayerInfo]:
    """The layers, in network order: None → blocks spread over the network plus the logits; "all" → every spatial
    layer plus the logits; else the names given (comma-separated or a list). Shapes are at the model's input size."""
    infos = list(probe(model, model.input_size).layers)
    spatial = [info for info in infos if len(info.shape) in model.modality.map_ranks]  # audio: [C, T] too
    logit = [info for info in infos if info.name == LOGIT]
    if layers is None:  # networks over time (music-cnn) have no blocks or 2-D convolutions: their 1-D ones
        chosen = (default_layers(model, spatial) or [info for info in spatial if info.type == "Conv1d"]) + logit
    elif layers == ALL:
        chosen = spatial + logit
    else:
        names = [n.strip() for n in layers.split(",")] if isinstance(layers, str) else [str(n).strip() for n in layers]
        names = list(dict.fromkeys(n for n in names if n))
        if not names:
            raise bad_parameter("layers", "names none: give layer names, e.g. conv2,logit, or 'all' (see `featurelens layers`)")
        by_name = {info.name: info for info in infos}
        for name in names:
            if name not in by_name:
                reason = probe(model, model.input_size).unreachable(name, model.spec)
                raise FeaturelensError(reason or unknown_layer_message(name, list(by_name)))
        order = {info.name: i for i, info in enumerate(infos)}
        chosen = sorted((by_name[name] for name in names), key=lambda info: order[info.name])
    for info in chosen:
        check_layer(model, info, render_size)
    return chosen


def check_layer(model: LoadedModel, info: LayerInfo, render_size: int) -> None:
    """One-line errors for a layer an atlas cannot show: no channels, unreachable at the render size, a clashing folder."""
    if not 1 <= len(info.shape) <= 3:
        raise FeaturelensError(f"layer {info.name!r} has output shape {info.shape}: pick a layer with [C] or [C, H, W] outputs")
    at_render = probe(model, render_size)
    if info.name not in at_render.shapes():
        reason = at_render.unreachable(info.name, model.spec)
        raise FeaturelensError(reason or f"layer {info.name!r} gives no output on {render_size}-pixel renders: choose another size")
    if layer_folder(info.name) == INPUTS:
        raise FeaturelensError(f"layer {info.name!r} would share its folder with the example inputs: address it through its parent")


def layer_info(model: LoadedModel, name: str, render_size: int) -> LayerInfo:
    """One layer by name (the store's way in), checked like `atlas_layers`."""
    return atlas_layers(model, [name], render_size)[0]
