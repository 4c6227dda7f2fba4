"""Lucid's decorrelated colour space: optimise in the principal axes of natural-image RGB, then map back.

The matrix is the square root of the empirical ImageNet RGB covariance (its SVD factors), scaled
so its largest column has unit norm.
"""

from __future__ import annotations

import torch

_COLOR_CORRELATION_SVD_SQRT = torch.tensor(
    [[0.26, 0.09, 0.02],
     [0.27, 0.00, -0.05],
     [0.27, -0.09, 0.03]]
)
COLOR_MATRIX = _COLOR_CORRELATION_SVD_SQRT / _COLOR_CORRELATION_SVD_SQRT.norm(dim=0).max()


def decorrelated_to_rgb(image: torch.Tensor) -> torch.Tensor:
    """[B, 3, H, W] in decorrelated space → correlated RGB (before the sigmoid). Grey images pass through."""
    if image.shape[1] != 3:
        return image
    matrix = COLOR_MATRIX.to(image.device, image.dtype)
    return torch.einsum("ij,bjhw->bihw", matrix, image)


def rgb_to_decorrelated(image: torch.Tensor) -> torch.Tensor:
    """Exact inverse of `decorrelated_to_rgb`."""
    if image.shape[1] != 3:
        return image
    inverse = torch.linalg.inv(COLOR_MATRIX.double()).to(image.device, image.dtype)
    return torch.einsum("ij,bjhw->bihw", inverse, image)
