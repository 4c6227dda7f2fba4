"""Speed-ups that change how a model computes, never what: memory layout and inference-mode BatchNorm.

- Channels-last layout: convolutions run markedly faster on CPU (and with cuDNN).
- An eval-mode BatchNorm is a fixed per-channel affine map; computed as one fused multiply-add its
  backward costs a third of `batch_norm`'s (which re-derives statistics terms it does not need).
  Hooks on the BatchNorm modules still fire: capture and unit addresses are unaffected.
"""

from __future__ import annotations

import weakref
from contextlib import contextmanager
from typing import Iterator

import torch
from torch import nn

from featurelens.capture.per_module import remembered


_LAYOUT: "weakref.WeakKeyDictionary[nn.Module, bool]" = weakref.WeakKeyDictionary()  # modules already switched (or not switchable)


def use_channels_last(module: nn.Module) -> bool:
    """Switch a convolutional module's weights to channels-last in place; False if it has no Conv2d or can't.
    Remembered per module (moving or loading weights keeps their layout), so a live frame pays nothing."""
    return remembered(_LAYOUT, module, lambda: _switch_to_channels_last(module))


def _switch_to_channels_last(module: nn.Module) -> bool:
    if not any(isinstance(m, nn.Conv2d) for m in module.modules()):
        return False
    try:
        module.to(memory_format=torch.channels_last)
    except (RuntimeError, TypeError):  # e.g. some scripted modules
        return False
    return True


def as_layout(images: torch.Tensor, channels_last: bool) -> torch.Tensor:
    return images.contiguous(memory_format=torch.channels_last) if channels_last and images.dim() == 4 else images


class _AffineForward:
    """`x * scale + shift` with the BatchNorm's running statistics folded in (frozen weights)."""

    def __init__(self, norm: nn.BatchNorm2d):
        with torch.no_grad():
            scale = norm.weight / torch.sqrt(norm.running_var + norm.eps) if norm.affine else torch.rsqrt(norm.running_var + norm.eps)
            shift = (norm.bias if norm.affine else 0) - norm.running_mean * scale
        self.scale, self.shift = scale.view(1, -1, 1, 1), shift.view(1, -1, 1, 1)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        # in x's dtype: under bfloat16 autocast a float32 scale would promote every BatchNorm's output back to float32
        return torch.addcmul(self.shift.to(x.dtype), x, self.scale.to(x.dtype))


@contextmanager
def affine_batchnorm(module: nn.Module) -> Iterator[None]:
    """Within the block, every eval-mode BatchNorm2d with running statistics runs as a fused affine map."""
    swapped = []
    for norm in module.modules():
        if isinstance(norm, nn.BatchNorm2d) and not norm.training and norm.running_var is not None and "forward" not in norm.__dict__:
            norm.forward = _AffineForward(norm)
            swapped.append(norm)
    try:
        yield
    finally:
        for norm in swapped:
            del norm.forward
