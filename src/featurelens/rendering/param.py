"""Image parameterizations: how the optimised variables become [B, C, H, W] images in [0, 1].

- `PixelImage`: one variable per pixel, squashed by a sigmoid.
- `FourierImage`: Lucid's spectrum with 1/f scaling and decorrelated colour (Olah et al. 2017).
- `MacoImage`: MACO (Fel et al. 2023): the phase is optimised, the magnitude is fixed to the
  average spectrum of natural photos.
- `CPPNImage`: a compositional pattern-producing network per image (Mordvintsev et al. 2018): a
  small network maps each pixel's coordinates to its colour, so it draws at any size afterwards.
The first three have `set_image` (their exact inverse, or MACO's phase) so an image can seed an optimisation.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from featurelens.rendering.color import decorrelated_to_rgb, rgb_to_decorrelated

_FOURIER_SCALE = 4.0  # Lucid divides the spectrum's image by 4 so sigmoid starts near its linear range


def _logit(image: torch.Tensor) -> torch.Tensor:
    image = image.clamp(1e-4, 1 - 1e-4)
    return torch.log(image / (1 - image))


def _to_image(raw: torch.Tensor, decorrelate: bool) -> torch.Tensor:
    """Unbounded values (decorrelated colour if asked) → RGB in [0, 1]."""
    return torch.sigmoid(decorrelated_to_rgb(raw) if decorrelate else raw)


def _from_image(image: torch.Tensor, decorrelate: bool) -> torch.Tensor:
    """Exact inverse of `_to_image` (inside the sigmoid's clamp)."""
    raw = _logit(image)
    return rgb_to_decorrelated(raw) if decorrelate else raw


class PixelImage(nn.Module):
    """Pixels through a sigmoid; decorrelated colour optional."""

    def __init__(self, batch: int, channels: int, size: int, generator: torch.Generator, decorrelate: bool = True, std: float = 0.01):
        super().__init__()
        self.decorrelate = decorrelate and channels == 3
        self.pixels = nn.Parameter(torch.randn(batch, channels, size, size, generator=generator) * std)

    def forward(self) -> torch.Tensor:
        return _to_image(self.pixels, self.decorrelate)

    def set_image(self, image: torch.Tensor) -> None:
        with torch.no_grad():
            self.pixels.copy_(_from_image(image, self.decorrelate))


def rfft2_frequencies(height: int, width: int) -> torch.Tensor:
    """Radial frequency of every rfft2 coefficient, shape [height, width // 2 + 1]."""
    fy = torch.fft.fftfreq(height)[:, None]
    fx = torch.fft.rfftfreq(width)[None, :]
    return torch.sqrt(fx * fx + fy * fy)


class FourierImage(nn.Module):
    """Lucid's Fourier basis: spectrum × 1/f^decay, inverse FFT, decorrelated colour, sigmoid."""

    def __init__(self, batch: int, channels: int, size: int, generator: torch.Generator,
                 decorrelate: bool = True, std: float = 0.01, decay_power: float = 1.0):
        super().__init__()
        self.size = size
        self.decorrelate = decorrelate and channels == 3
        freqs = rfft2_frequencies(size, size)
        scale = 1.0 / freqs.clamp_min(1.0 / size) ** decay_power
        self.register_buffer("scale", scale * math.sqrt(size * size))
        shape = (batch, channels, size, size // 2 + 1, 2)
        self.spectrum = nn.Parameter(torch.randn(shape, generator=generator) * std)

    def forward(self) -> torch.Tensor:
        coefficients = torch.view_as_complex(self.spectrum) * self.scale
        raw = torch.fft.irfft2(coefficients, s=(self.size, self.size)) / _FOURIER_SCALE
        return _to_image(raw, self.decorrelate)

    def set_image(self, image: torch.Tensor) -> None:
        """Set the spectrum so that `forward()` returns `image` (up to the sigmoid's clamp)."""
        raw = _from_image(image, self.decorrelate)
        coefficients = torch.fft.rfft2(raw * _FOURIER_SCALE) / self.scale
        with torch.no_grad():
            self.spectrum.copy_(torch.view_as_real(coefficients))


class MacoImage(nn.Module):
    """MACO: fixed natural magnitude spectrum (in decorrelated colour), optimised phase."""

    def __init__(self, batch: int, channels: int, size: int, generator: torch.Generator,
                 magnitude: torch.Tensor, decorrelate: bool = True, std: float = 1.0):
        super().__init__()
        self.size = size
        self.decorrelate = decorrelate and channels == 3
        self.register_buffer("magnitude", magnitude[:channels].clone())
        self.phase = nn.Parameter(torch.randn(batch, channels, size, size // 2 + 1, generator=generator) * std)

    def forward(self) -> torch.Tensor:
        phase = self.phase
        phase = (phase - phase.mean(dim=(1, 2, 3), keepdim=True)) / (phase.std(dim=(1, 2, 3), keepdim=True) + 1e-5)
        coefficients = torch.polar(self.magnitude.expand_as(phase), phase)
        raw = torch.fft.irfft2(coefficients, s=(self.size, self.size))
        raw = (raw - raw.mean(dim=(1, 2, 3), keepdim=True)) / (raw.std(dim=(1, 2, 3), keepdim=True) + 1e-5)
        return _to_image(raw, self.decorrelate)

    def set_image(self, image: torch.Tensor) -> None:
        """Take the phase of `image` (MACO keeps the magnitude fixed, so only the phase transfers)."""
        raw = _from_image(image, self.decorrelate)
        with torch.no_grad():
            self.phase.copy_(torch.angle(torch.fft.rfft2(raw)))


class CPPNImage(nn.Module):
    """Lucid's CPPN: 8 layers of 24 units with the composite activation [atan(x)/0.67, atan(x)²/0.6] on the
    pixel's (x, y) in [-√3, √3] (unit variance), a zero-initialised linear colour layer (grey at the start),
    then decorrelated colour and a sigmoid. `forward(size)` draws the same picture at any size."""

    def __init__(self, batch: int, channels: int, size: int, generator: torch.Generator,
                 decorrelate: bool = True, hidden: int = 24, layers: int = 8):
        super().__init__()
        self.size = size
        self.decorrelate = decorrelate and channels == 3
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        width = 2
        for _ in range(layers):
            self.weights.append(nn.Parameter(torch.randn(batch, width, hidden, generator=generator) * math.sqrt(1.0 / width)))
            self.biases.append(nn.Parameter(torch.zeros(batch, 1, hidden)))
            width = 2 * hidden  # the composite activation doubles the features
        self.weights.append(nn.Parameter(torch.zeros(batch, width, channels)))
        self.biases.append(nn.Parameter(torch.zeros(batch, 1, channels)))

    def forward(self, size: int | None = None) -> torch.Tensor:
        size = size or self.size
        batch = self.weights[0].shape[0]
        extent = math.sqrt(3.0)
        axis = torch.linspace(-extent, extent, size, device=self.weights[0].device)
        y, x = torch.meshgrid(axis, axis, indexing="ij")
        net = torch.stack([x, y], -1).reshape(1, size * size, 2).expand(batch, -1, -1)
        for weight, bias in zip(self.weights[:-1], self.biases[:-1]):
            net = torch.atan(torch.baddbmm(bias, net, weight))
            net = torch.cat([net / 0.67, net * net / 0.6], -1)  # each part has unit RMS for unit-normal inputs
        raw = torch.baddbmm(self.biases[-1], net, self.weights[-1])
        return _to_image(raw.transpose(1, 2).reshape(batch, -1, size, size), self.decorrelate)


class ResampledImage(nn.Module):
    """Another parameterization's images, resampled (bilinear) to `size`: a picture optimised at a lower
    resolution and shown to the network at its input size. Resolution-free ones draw at `size` directly."""

    def __init__(self, inner: nn.Module, size: int):
        super().__init__()
        self.inner = inner
        self.size = size

    def forward(self, size: int | None = None) -> torch.Tensor:
        size = size or self.size
        if isinstance(self.inner, CPPNImage):
            return self.inner(size)
        return F.interpolate(self.inner(), size=(size, size), mode="bilinear", align_corners=False)


PARAMETERIZATIONS = ("fft", "pixel", "maco", "cppn")
RESOLUTION_FREE = ("cppn",)  # parameterizations that draw at any size after optimisation
