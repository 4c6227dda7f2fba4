"""`project`: what in one image drives one unit, mapped back to pixels (deconvnet, guided backprop or gradient)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from featurelens.capture import LOGIT, LayerInfo, capture_activations, find_layer
from featurelens.errors import FeaturelensError
from featurelens.images import load_image, resize_square
from featurelens.models.loaded import LoadedModel
from featurelens.project.backproject import backproject
from featurelens.project.rectifiers import check_method
from featurelens.units import Unit, UnitExpression, parse_units, resolve_expression
from featurelens.units.address import CENTER


@dataclass(frozen=True)
class Projection:
    """One unit projected into the model's input space.

    array: [C, H, W] float32 in the model's (normalised) input space. For deconvnet it reconstructs
    the activation (seeded with its value, as in Zeiler & Fergus); for guided and gradient it is the
    derivative of the unit with respect to the input. position: the (y, x) used at the unit's layer
    (None for [C] layers such as logits). activation: the unit's value on the image.
    """

    array: np.ndarray
    unit: str
    position: tuple[int, int] | None
    activation: float
    method: str


def project(model: LoadedModel, image: torch.Tensor | str | Path, unit: str | Unit, method: str = "deconvnet") -> Projection:
    """Project `unit` (LAYER:C for the channel's strongest position, LAYER:C@Y,X, LAYER:C@center, logit:N) of one image.

    image: [C, H, W] or [1, C, H, W] in [0, 1] with the model's channels (any size the model accepts),
    or a path, loaded at the model's input size.
    """
    check_method(method)
    images = _image_batch(model, image)
    inputs = model.normalize(images)
    target = resolve_projection_unit(model, inputs, unit)
    positions = None if target.position is None else torch.tensor([target.position], device=inputs.device)
    result = backproject(model.module, inputs, target.layer, torch.tensor([target.channel]), positions, method)
    position = None if result.positions is None else tuple(int(v) for v in result.positions[0].tolist())
    used = replace(target, position=position)
    return Projection(
        array=result.inputs_grad[0].float().cpu().numpy(),
        unit=str(used),
        position=position,
        activation=float(result.activations[0]),
        method=method,
    )


def resolve_projection_unit(model: LoadedModel, inputs: torch.Tensor, unit: str | Unit) -> Unit:
    """Parse and check a single-unit address against the model at this input size; @center becomes a (y, x).

    Runs the model only up to the unit's layer (no gradient) to learn its shape.
    """
    expression = parse_units(unit) if isinstance(unit, str) else UnitExpression.of(unit)
    if len(expression.terms) != 1 or expression.terms[0][0] != 1.0:
        raise FeaturelensError(f"projection takes one unit, not a combination: got {str(unit)!r} (e.g. conv3:5 or conv3:5@2,1)")
    layer = expression.terms[0][1].layer
    if layer != LOGIT:
        find_layer(model.module, layer)  # an unknown name fails here, with the closest names
    shape = _layer_shape(model, inputs, layer)
    resolved = resolve_expression(expression, model, [LayerInfo(layer, "", shape)]).terms[0][1]
    if resolved.direction is not None:
        raise FeaturelensError(f"projection takes a channel, not a direction: got {str(unit)!r} (e.g. {layer}:0)")
    if resolved.channel is None:
        raise FeaturelensError(f"unit {str(unit)!r} names a whole layer: projection needs a channel, e.g. {layer}:0")
    if len(shape) not in (1, 3):
        raise FeaturelensError(f"layer {layer!r} outputs shape {shape}: projection needs a [C, H, W] or [C] layer")
    if resolved.position == CENTER:
        return replace(resolved, position=(shape[-2] // 2, shape[-1] // 2))
    return resolved


def _layer_shape(model: LoadedModel, inputs: torch.Tensor, layer: str) -> tuple[int, ...]:
    try:
        with torch.no_grad():
            activation = capture_activations(model.module, inputs, [layer])[layer]
    except RuntimeError as err:
        if "produced no tensor output" not in str(err):
            raise
        raise FeaturelensError(f"layer {layer!r} produces no tensor in the forward pass: pick another (see `featurelens layers`)") from None
    return tuple(activation.shape[1:])


def load_model_image(model: LoadedModel, path: str | Path) -> torch.Tensor:
    """An image file as [1, C, S, S] in [0, 1]: the model's channels, centre square, resized to its input size S."""
    return resize_square(load_image(path, model.in_channels), model.input_size)


def _image_batch(model: LoadedModel, image: torch.Tensor | str | Path) -> torch.Tensor:
    if isinstance(image, (str, Path)):
        image = load_model_image(model, image)
    if image.dim() == 3:
        image = image[None]
    if image.dim() != 4 or image.shape[0] != 1 or image.shape[1] != model.in_channels:
        raise FeaturelensError(
            f"image of shape {tuple(image.shape)} does not fit model {model.spec!r}: give [{model.in_channels}, H, W] in [0, 1]"
        )
    return image.to(model.device, torch.float32)
