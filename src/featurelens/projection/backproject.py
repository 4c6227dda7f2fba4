"""Map units back to input space: one forward per image, then one backward pass per unit of that image.

Each projection pairs one image with one unit (a channel and a position) of one layer; all other
activations of that layer are zeroed and the signal is sent back through the network with the
method's rectifier rule (see `rectifiers`). The seed is the activation itself for deconvnet (Zeiler &
Fergus: "keep the chosen activation") and 1 for guided and gradient, which are derivatives of the
unit. Images of a batch do not mix (the model is in eval mode), so a backward pass can carry one unit
of every image at once; an image with many units keeps its forward graph for as many passes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from featurelens.capture import LOGIT, capture_activations, find_layer
from featurelens.errors import FeaturelensError
from featurelens.models.loaded import LoadedModel
from featurelens.projection.rectifiers import check_method, rectifier_backward
from featurelens.units.resolve import channel_out_of_range, check_position


@dataclass(frozen=True)
class Backprojection:
    """Projections [N, C, H, W] in model-input space, the (y, x) used per projection (None for [B, C] layers), and the activations [N]."""

    inputs_grad: torch.Tensor
    positions: list[tuple[int, int] | None]
    activations: torch.Tensor


def backproject(
    module: nn.Module,
    inputs: torch.Tensor,
    layer: str | Sequence[str],
    channels: torch.Tensor,
    positions: torch.Tensor | None,
    method: str,
    image_of: torch.Tensor | None = None,
    on_pass: Callable[[int], None] | None = None,
) -> Backprojection:
    """Project unit (layer[n], channels[n], positions[n]) on image image_of[n] of the normalised `inputs` [D, C, H, W].

    `layer` is one layer for all projections or one per projection. `image_of` None pairs projection n
    with image n. Positions None (or a negative row) pick the unit's strongest position in its image's
    map; layers with [B, C] output (fc, logit) take no position. One forward captures every layer for
    the D images; each backward pass then carries at most one projection per image, so an image with
    many units keeps its graph for that many passes. `on_pass(n)` gets the projections each pass finished.
    """
    check_method(method)
    if method != "gradient" and any(isinstance(m, torch.jit.ScriptModule) for m in module.modules()):
        raise FeaturelensError(
            f"{method} needs a Python model: TorchScript hides its ReLUs from the override; use --method gradient or load the model from its .py file"
        )
    channels = torch.as_tensor(channels, dtype=torch.long).reshape(-1)
    count = len(channels)
    layers = [layer] * count if isinstance(layer, str) else list(layer)
    image_of = torch.arange(count) if image_of is None else torch.as_tensor(image_of, dtype=torch.long).reshape(-1)
    if len(image_of) != count or len(layers) != count:
        raise FeaturelensError(f"got {count} channels, {len(layers)} layers and {len(image_of)} images: give one of each per projection")
    if count and (image_of.min() < 0 or image_of.max() >= len(inputs)):
        raise FeaturelensError(f"projections refer to image {int(image_of.max())} but only {len(inputs)} image(s) were given")
    names = list(dict.fromkeys(layers))
    for name in names:
        if name != LOGIT:
            find_layer(module, name)
    wanted = torch.full((count, 2), -1, dtype=torch.long) if positions is None else torch.as_tensor(positions, dtype=torch.long).reshape(-1, 2)
    x = inputs.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        with rectifier_backward(method) as mode:
            acts = capture_activations(module, x, names)
        if method == "deconvnet" and mode.count == 0 and mode.smooth:  # non-linear on the way, but never rectified
            raise FeaturelensError(
                f"deconvnet needs rectifiers (ReLU) on the way to {', '.join(names)}: this model has none (e.g. GELU), so it would "
                "be the plain gradient: use --method guided (GELU's guided rule) or gradient"
            )
        grads = torch.zeros((count, *x.shape[1:]), dtype=x.dtype, device=x.device)
        values = torch.zeros(count, dtype=torch.float32)
        used: list[tuple[int, int] | None] = [None] * count
        indices: dict[str, tuple] = {}
        row_in_layer: dict[int, int] = {}
        for name in names:
            members = torch.tensor([n for n in range(count) if layers[n] == name])
            row_in_layer.update((n, i) for i, n in enumerate(members.tolist()))
            indices[name] = _unit_index(name, acts[name], channels[members], wanted[members], image_of[members])
            values[members] = acts[name].detach()[indices[name]].float().cpu()
            if acts[name].dim() == 4:
                for n, y, xx in zip(members.tolist(), indices[name][2].tolist(), indices[name][3].tolist()):
                    used[n] = (y, xx)
        passes = _passes(image_of)
        for number, members in enumerate(passes):
            outputs, seeds = [], []
            for name in names:
                rows = [int(n) for n in members if layers[n] == name]
                if not rows:
                    continue
                picked = tuple(part[[row_in_layer[r] for r in rows]] for part in indices[name])
                seed = torch.zeros_like(acts[name])
                seed[picked] = acts[name].detach()[picked] if method == "deconvnet" else 1.0
                outputs.append(acts[name])
                seeds.append(seed)
            (grad,) = torch.autograd.grad(outputs, x, grad_outputs=seeds, retain_graph=number < len(passes) - 1)
            grads[members] = grad[image_of[members].to(grad.device)]
            if on_pass is not None:
                on_pass(len(members))
    return Backprojection(grads.detach(), used, values)


def _unit_index(layer: str, activation: torch.Tensor, channels: torch.Tensor, wanted: torch.Tensor, image_of: torch.Tensor) -> tuple:
    """The activation index of each projection's unit: (image, channel) or (image, channel, y, x)."""
    if not activation.requires_grad:
        raise FeaturelensError(f"layer {layer!r} does not depend on the input image: choose a layer inside the network")
    _check_channels(layer, activation, channels)
    device = activation.device
    image_of, channels = image_of.to(device), channels.to(device)
    if activation.dim() == 2:
        return image_of, channels
    positions = _positions(layer, activation.detach()[image_of, channels], wanted.to(device))
    return image_of, channels, positions[:, 0], positions[:, 1]


def projection_batches(image_of: Sequence[int], batch_size: int) -> list[tuple[list[int], list[int]]]:
    """(images, projections) per forward: images with the same number of projections share a batch (up to
    `batch_size`), so every backward pass carries one projection of every image in it and none is wasted."""
    per_image: dict[int, list[int]] = {}
    for n, image in enumerate(image_of):
        per_image.setdefault(int(image), []).append(n)
    by_count: dict[int, list[int]] = {}
    for image, members in per_image.items():
        by_count.setdefault(len(members), []).append(image)
    batches = []
    for count in sorted(by_count, reverse=True):
        images = by_count[count]
        for start in range(0, len(images), batch_size):
            chunk = images[start:start + batch_size]
            batches.append((chunk, [n for image in chunk for n in per_image[image]]))
    return batches


def _passes(image_of: torch.Tensor) -> list[torch.Tensor]:
    """Projection indices per backward pass: pass j carries the j-th projection of every image."""
    slot = torch.zeros_like(image_of)
    seen: dict[int, int] = {}
    for n, image in enumerate(image_of.tolist()):
        slot[n] = seen.get(image, 0)
        seen[image] = int(slot[n]) + 1
    return [torch.nonzero(slot == j).flatten() for j in range(int(slot.max()) + 1)] if len(slot) else []


def _check_channels(layer: str, activation: torch.Tensor, channels: torch.Tensor) -> None:
    if activation.dim() not in (2, 4):
        raise FeaturelensError(
            f"layer {layer!r} outputs shape {tuple(activation.shape[1:])}: projection needs a [C, H, W] or [C] layer"
        )
    count = activation.shape[1]
    bad = channels[(channels < 0) | (channels >= count)]
    if bad.numel():
        raise channel_out_of_range(layer, int(bad[0]), count)


def _positions(layer: str, maps: torch.Tensor, positions: torch.Tensor | None) -> torch.Tensor:
    """[N, 2] (y, x) per projection: the given ones (checked), or, where None or negative, the argmax of the projection's channel map [N, H, W]."""
    height, width = maps.shape[-2:]
    flat = maps.reshape(maps.shape[0], -1).argmax(dim=1)
    strongest = torch.stack([flat // width, flat % width], dim=1)
    if positions is None:
        return strongest
    positions = torch.as_tensor(positions, dtype=torch.long, device=maps.device).reshape(-1, 2)
    if positions.shape[0] != maps.shape[0]:
        raise FeaturelensError(f"got {positions.shape[0]} positions for {maps.shape[0]} projections: give one (y, x) per projection")
    for y, x in positions.tolist():
        if y >= 0 and x >= 0:
            check_position(layer, (y, x), (height, width))
    return torch.where(positions < 0, strongest, positions)


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
    result = backproject(model.module, inputs, layer, torch.as_tensor(channels), positions, method)
    return result.inputs_grad.float().cpu().numpy()
