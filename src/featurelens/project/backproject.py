"""Map chosen units back to input space: one forward, one backward for a whole batch.

Each image b selects one unit (its own channel and position) at one layer; all other activations of
that layer are zeroed and the signal is sent back through the network with the method's rectifier rule
(see `rectifiers`). The seed is the activation itself for deconvnet (Zeiler & Fergus: "keep the chosen
activation") and 1 for guided and gradient, which are derivatives of the unit. Images of a batch do
not mix (the model is in eval mode), so one backward gives every image its own projection.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from featurelens.capture import LOGIT, capture_activations, find_layer
from featurelens.errors import FeaturelensError
from featurelens.models.loaded import LoadedModel
from featurelens.project.rectifiers import check_method, rectifier_backward


@dataclass(frozen=True)
class Backprojection:
    """Projections [B, C, H, W] in model-input space, the (y, x) used per image ([B, 2], None for [B, C] layers), and the activations [B]."""

    inputs_grad: torch.Tensor
    positions: torch.Tensor | None
    activations: torch.Tensor


def backproject(
    module: nn.Module,
    inputs: torch.Tensor,
    layer: str,
    channels: torch.Tensor,
    positions: torch.Tensor | None,
    method: str,
) -> Backprojection:
    """Project unit (channels[b], positions[b]) of `layer` for each normalised input [B, C, H, W].

    positions None picks each image's strongest position in its channel. Layers with [B, C] output
    (fc, logit) take no position.
    """
    check_method(method)
    if method != "gradient" and any(isinstance(m, torch.jit.ScriptModule) for m in module.modules()):
        raise FeaturelensError(
            f"{method} needs a Python model: TorchScript hides its ReLUs from the override; use --method gradient or load the model from its .py file"
        )
    if layer != LOGIT:
        find_layer(module, layer)
    x = inputs.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        with rectifier_backward(method):
            activation = capture_activations(module, x, [layer])[layer]
        if not activation.requires_grad:
            raise FeaturelensError(f"layer {layer!r} does not depend on the input image: choose a layer inside the network")
        channels = torch.as_tensor(channels, dtype=torch.long, device=activation.device).reshape(-1)
        _check_channels(layer, activation, channels)
        batch = torch.arange(activation.shape[0], device=activation.device)
        if activation.dim() == 2:
            positions = None
            index = (batch, channels)
        else:
            positions = _positions(layer, activation[batch, channels], positions)
            index = (batch, channels, positions[:, 0], positions[:, 1])
        values = activation[index].detach()
        seed = torch.zeros_like(activation)
        seed[index] = values if method == "deconvnet" else 1.0
        (grad,) = torch.autograd.grad(activation, x, grad_outputs=seed)
    return Backprojection(grad.detach(), positions, values)


def _check_channels(layer: str, activation: torch.Tensor, channels: torch.Tensor) -> None:
    if activation.dim() not in (2, 4):
        raise FeaturelensError(
            f"layer {layer!r} outputs shape {tuple(activation.shape[1:])}: projection needs a [C, H, W] or [C] layer"
        )
    if channels.numel() != activation.shape[0]:
        raise FeaturelensError(f"got {channels.numel()} channels for {activation.shape[0]} images: give one per image")
    count = activation.shape[1]
    bad = channels[(channels < 0) | (channels >= count)]
    if bad.numel():
        raise FeaturelensError(f"channel {int(bad[0])} out of range for layer {layer!r}: valid channels are 0..{count - 1}")


def _positions(layer: str, maps: torch.Tensor, positions: torch.Tensor | None) -> torch.Tensor:
    """[B, 2] (y, x) per image: the given ones (checked), or the argmax of each image's channel map [B, H, W]."""
    height, width = maps.shape[-2:]
    if positions is None:
        flat = maps.detach().reshape(maps.shape[0], -1).argmax(dim=1)
        return torch.stack([flat // width, flat % width], dim=1)
    positions = torch.as_tensor(positions, dtype=torch.long, device=maps.device).reshape(-1, 2)
    if positions.shape[0] != maps.shape[0]:
        raise FeaturelensError(f"got {positions.shape[0]} positions for {maps.shape[0]} images: give one (y, x) per image")
    y, x = positions[:, 0], positions[:, 1]
    outside = (y < 0) | (y >= height) | (x < 0) | (x >= width)
    if outside.any():
        i = int(outside.nonzero()[0])
        raise FeaturelensError(
            f"position {int(y[i])},{int(x[i])} out of range for layer {layer!r} at this input size: valid 0..{height - 1},0..{width - 1}"
        )
    return positions


def project_batch(
    model: LoadedModel,
    images: torch.Tensor,
    layer: str,
    channels: torch.Tensor | list[int],
    positions: torch.Tensor | None = None,
    method: str = "deconvnet",
) -> np.ndarray:
    """Projections [B, C, H, W] float32 of unit (channels[b], positions[b]) of `layer` for images [B, C, H, W] in [0, 1].

    positions [B, 2] as (y, x), or None for each image's strongest position in its channel. Deconvnet keeps
    each unit's activation as the seed; guided and gradient seed with 1 (derivatives of the unit).
    """
    inputs = model.normalize(images.to(model.device))
    if positions is not None:
        positions = torch.as_tensor(positions, device=model.device)
    result = backproject(model.module, inputs, layer, torch.as_tensor(channels, device=model.device), positions, method)
    return result.inputs_grad.float().cpu().numpy()
