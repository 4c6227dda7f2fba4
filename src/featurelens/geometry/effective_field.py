"""Effective fields: where a unit's gradient on one input concentrates, for layers whose receptive field is the
whole input (token grids after self-attention). Cropping such an example by its receptive field would show the
whole image; the effective box shows the part that moved the unit on that input.

The box spans the middle `MASS` of the gradient's magnitude along each axis (from quantile (1 - MASS) / 2 to
(1 + MASS) / 2 of the row and column sums), and is never smaller than `min_side` pixels (a patch).
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch

from featurelens.capture import ActivationCapture
from featurelens.models import LoadedModel

MASS = 0.8
CHUNK = 64  # examples per backward pass


def effective_boxes(
    model: LoadedModel, layer: str, image_of: Callable[[int], torch.Tensor], entries: Sequence[int], channels: torch.Tensor,
    positions: torch.Tensor, min_side: tuple[int, int],
) -> np.ndarray:
    """(x0, y0, x1, y1) per example: example n is entry `entries[n]` (`image_of(entry)`: [C, H, W] in [0, 1]), its unit
    channel `channels[n]` at `positions[n]` (y, x) on the layer's grid; int64 [B, 4], x1 / y1 exclusive. Images are
    read and normalised a chunk at a time, so memory follows the chunk, not the number of examples."""
    boxes = np.zeros((len(entries), 4), np.int64)
    with ActivationCapture(model.module, [layer]) as capture:
        for start in range(0, len(entries), CHUNK):
            span = slice(start, start + CHUNK)
            chunk = torch.stack([image_of(int(entry)) for entry in entries[span]])
            images = model.normalize(chunk.to(model.device)).requires_grad_(True)
            with torch.enable_grad():
                activation = capture.run(images)[layer]
                rows = torch.arange(len(images), device=activation.device)
                picked = activation[rows, channels[span].to(activation.device), positions[span, 0], positions[span, 1]]
                (grad,) = torch.autograd.grad(picked.sum(), images)
            saliency = grad.abs().sum(1).float().cpu()  # [b, H, W]
            boxes[span] = [_box(map_, min_side) for map_ in saliency]
    return boxes


def _box(saliency: torch.Tensor, min_side: tuple[int, int]) -> tuple[int, int, int, int]:
    height, width = saliency.shape
    if not float(saliency.sum()) > 0:  # nothing reached the input: the whole image
        return 0, 0, width, height
    y0, y1 = _span(saliency.sum(1), min_side[0])
    x0, x1 = _span(saliency.sum(0), min_side[1])
    return x0, y0, x1, y1


def _span(mass: torch.Tensor, min_side: int) -> tuple[int, int]:
    """[start, stop) holding the middle MASS of `mass` along one axis, widened about its centre to `min_side`."""
    share = mass.cumsum(0) / mass.sum()
    start = int(torch.searchsorted(share, torch.tensor((1 - MASS) / 2)))
    stop = int(torch.searchsorted(share, torch.tensor((1 + MASS) / 2))) + 1
    limit = len(mass)
    if stop - start < min_side:
        centre = (start + stop) // 2
        start = max(0, min(centre - min_side // 2, limit - min_side))
        stop = min(limit, start + min_side)
    return start, min(stop, limit)
