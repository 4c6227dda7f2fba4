"""The backward network: a decoder from one layer's activations to the image, sized from the layer's shape and stride.

Activations are divided by a fixed per-channel scale (their RMS on the training data), so zero
stays zero and a single kept unit is a meaningful input. Then a 3×3 convolution, one transposed
convolution (×2) plus a 3×3 convolution per octave of stride, and a 3×3 convolution to the image
channels with a sigmoid ([0, 1] pixels); a final bilinear resize covers strides that are not
powers of two. Non-spatial layers ([C]) enter as a 1×1 map.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class Decoder(nn.Module):
    """Activations [B, *layer_shape] → images [B, out_channels, out_size, out_size] in [0, 1]."""

    def __init__(self, layer_shape: tuple[int, ...], out_channels: int, out_size: int, width: int = 64):
        super().__init__()
        channels = layer_shape[0]
        side = layer_shape[-1] if len(layer_shape) == 3 else 1
        self.layer_shape = tuple(layer_shape)
        self.out_size = out_size
        self.register_buffer("scale", torch.ones(channels))
        octaves = max(0, math.ceil(math.log2(out_size / side) - 1e-9))
        widths = [max(16, width // 2 ** i) for i in range(octaves + 1)]
        self.stem = nn.Sequential(nn.Conv2d(channels, widths[0], 3, padding=1), nn.ReLU())
        self.up = nn.Sequential(*[
            nn.Sequential(
                nn.ConvTranspose2d(widths[i], widths[i + 1], 4, stride=2, padding=1), nn.ReLU(),
                nn.Conv2d(widths[i + 1], widths[i + 1], 3, padding=1), nn.ReLU(),
            )
            for i in range(octaves)
        ])
        self.head = nn.Conv2d(widths[-1], out_channels, 3, padding=1)

    def forward(self, activation: torch.Tensor) -> torch.Tensor:
        x = activation if activation.dim() == 4 else activation.reshape(activation.shape[0], -1, 1, 1)
        x = x / self.scale.view(1, -1, 1, 1)
        x = self.up(self.stem(x))
        if x.shape[-1] != self.out_size or x.shape[-2] != self.out_size:
            x = F.interpolate(x, size=(self.out_size, self.out_size), mode="bilinear", align_corners=False)
        return torch.sigmoid(self.head(x))
