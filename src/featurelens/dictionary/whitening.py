"""Whitening a layer's rows before a dictionary is learned, and folding it back into the dictionary file.

In ZCA-whitened coordinates `z = (x − mean) W` every direction has unit variance, so a feature's encoder direction is
not pulled towards the layer's few loud directions, and archetypes taken from the data's extremes (the archetypal method)
are extremes of its shape rather than of its scale. Measured on fashion-cnn conv3: the top 9 inputs of such
directions come from one class far more often (median top-9 purity 1.0 against 0.67 for neurons and unwhitened
directions). The whitening is affine, so the learned dictionary is written as one over the raw layer (`fold`): the
file format, its units and `--dictionary` stay as they are; only its decoder rows are then unit length in whitened
coordinates rather than raw ones.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from featurelens.dictionary.file import Dictionary

RIDGE = 1e-2  # added to every eigenvalue, as a share of their mean: directions of almost no variance are not blown up


@dataclass
class Whitening:
    """`z = (x − mean) @ matrix` (`matrix` symmetric, [C, C]); `inverse` undoes it."""

    mean: torch.Tensor
    matrix: torch.Tensor
    inverse: torch.Tensor

    @classmethod
    def fit(cls, rows: torch.Tensor) -> "Whitening":
        """The ZCA whitening of `rows` [N, C] (in float64 for the eigendecomposition)."""
        rows64 = rows.double()
        mean = rows64.mean(0)
        values, vectors = torch.linalg.eigh(torch.cov((rows64 - mean).T))
        values = values.clamp_min(0) + RIDGE * values.clamp_min(0).mean()
        matrix = vectors @ torch.diag(values.rsqrt()) @ vectors.T
        inverse = vectors @ torch.diag(values.sqrt()) @ vectors.T
        return cls(mean.float(), matrix.float(), inverse.float())

    def to(self, device: torch.device | str) -> "Whitening":
        return Whitening(self.mean.to(device), self.matrix.to(device), self.inverse.to(device))

    def __call__(self, rows: torch.Tensor) -> torch.Tensor:
        return (rows - self.mean) @ self.matrix

    def fold(self, learned: Dictionary) -> Dictionary:
        """The dictionary `learned` over whitened rows (scale 1), as a dictionary over the raw rows: the same codes and
        the same reconstruction for every row."""
        if learned.scale != 1.0:
            raise ValueError("a whitened dictionary is learned at scale 1")
        matrix, inverse, mean = (t.to(learned.encoder_weight) for t in (self.matrix, self.inverse, self.mean))
        return replace(learned, encoder_weight=learned.encoder_weight @ matrix, decoder_weight=learned.decoder_weight @ inverse,
                       decoder_bias=mean + learned.decoder_bias @ inverse)
