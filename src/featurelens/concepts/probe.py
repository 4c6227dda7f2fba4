"""The concept's direction: a linear probe on a layer's pooled features, as TCAV's concept activation vectors.

A logistic regression (L2-penalised, classes weighted equally however many negatives there are) fitted by L-BFGS in
float64 on standardised features, so the same inputs give the same direction. Its weight, brought back to the
layer's own channel space, is a direction `w` and a bias `b` with `logit = w · x̄ + b` for the mean-pooled features
x̄ — exactly what the unit `LAYER:dir=w.npy` measures (the space-averaged activation along `w`), up to its length.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from featurelens.concepts.separation import roc_auc

L2 = 1e-2  # penalty on the standardised weights: mild, it matters when inputs are fewer than channels
HELD_OUT = 0.25  # share of each class kept out of the fit to measure the probe (when each class has at least 4)


@dataclass(frozen=True)
class Probe:
    """A fitted concept direction over C channels: `weight` [C], `bias`, and its AUC on inputs it did not see
    (None when there were too few to hold any out)."""

    weight: np.ndarray
    bias: float
    held_out_auc: float | None
    fitted_auc: float  # on the inputs it was fitted on (all of them)

    def scores(self, features: np.ndarray) -> np.ndarray:
        """The probe's logit for pooled features [N, C] → [N]."""
        return features.astype(np.float64) @ self.weight + self.bias

    @property
    def direction(self) -> np.ndarray:
        """The weight at unit length (float32): what `LAYER:dir=FILE.npy` reads."""
        return (self.weight / max(float(np.linalg.norm(self.weight)), 1e-12)).astype(np.float32)


def fit_probe(positives: np.ndarray, negatives: np.ndarray, seed: int = 0) -> Probe:
    """The concept's probe from pooled features of positives [P, C] and negatives [N, C]: measured on a held-out
    quarter of each class (chosen by `seed`), then fitted again on everything."""
    held_out_auc = None
    if min(len(positives), len(negatives)) >= 4:
        rng = np.random.default_rng(seed)
        pos_out = _held_out(len(positives), rng)
        neg_out = _held_out(len(negatives), rng)
        weight, bias = _fit(positives[~pos_out], negatives[~neg_out])
        held_out_auc = float(roc_auc((positives[pos_out] @ weight)[:, None], (negatives[neg_out] @ weight)[:, None])[0])
    weight, bias = _fit(positives, negatives)
    fitted_auc = float(roc_auc((positives @ weight)[:, None], (negatives @ weight)[:, None])[0])
    return Probe(weight, bias, held_out_auc, fitted_auc)


def _held_out(count: int, rng: np.random.Generator) -> np.ndarray:
    mask = np.zeros(count, bool)
    mask[rng.permutation(count)[: max(1, round(count * HELD_OUT))]] = True
    return mask


def _fit(positives: np.ndarray, negatives: np.ndarray) -> tuple[np.ndarray, float]:
    """Weight [C] and bias in the layer's channel space of an L2 logistic regression, classes weighted equally."""
    x = torch.from_numpy(np.concatenate([positives, negatives]).astype(np.float64))
    y = torch.cat([torch.ones(len(positives), dtype=torch.float64), torch.zeros(len(negatives), dtype=torch.float64)])
    sample_weight = torch.where(y > 0, 0.5 / len(positives), 0.5 / len(negatives))
    mean, std = x.mean(0), x.std(0, unbiased=False).clamp_min(1e-8)  # constant channels: weight stays 0
    z = (x - mean) / std
    weight = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
    bias = torch.zeros((), dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([weight, bias], lr=1.0, max_iter=200, tolerance_grad=1e-10, tolerance_change=1e-12,
                                  history_size=20, line_search_fn="strong_wolfe")

    def loss() -> torch.Tensor:
        optimizer.zero_grad()
        logits = z @ weight + bias
        value = (sample_weight * torch.nn.functional.binary_cross_entropy_with_logits(logits, y, reduction="none")).sum()
        value = value + 0.5 * L2 * weight.pow(2).sum()
        value.backward()
        return value

    optimizer.step(loss)
    raw = (weight.detach() / std).numpy()
    return raw, float(bias.detach() - (weight.detach() * mean / std).sum())

