"""The raw cost a pass through a layer must pay, timed the same way by every benchmark that compares against it."""

from __future__ import annotations

import time

import torch

from featurelens.capture import ActivationCapture


def raw_seconds(model, images: torch.Tensor, deepest: str, batch_size: int) -> float:
    """Forward only over `images` (decoded, in [0, 1]), normalised beforehand, stopped at `deepest`."""
    x = model.normalize(images)
    with torch.no_grad(), ActivationCapture(model.module, [deepest]) as capture:
        capture.run(x[:batch_size])  # warm-up
        start = time.perf_counter()
        for begin in range(0, len(x), batch_size):
            capture.run(x[begin : begin + batch_size])
    return time.perf_counter() - start
