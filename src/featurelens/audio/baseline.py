"""The hand-made-features baseline: MFCC statistics of a clip, mapped to item factors by ridge regression."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.fft import dct


def mfcc_statistics(log_mels: torch.Tensor | np.ndarray, n_mfcc: int = 20) -> np.ndarray:
    """[N, n_mels, T] log-mel → [N, 4 · n_mfcc]: mean and std over time of the MFCCs and of their deltas.

    MFCCs are the orthonormal DCT-II of the log-mel bands (librosa's `mfcc` up to its dB scaling).
    """
    log_mels = log_mels.numpy() if isinstance(log_mels, torch.Tensor) else np.asarray(log_mels)
    mfcc = dct(log_mels.astype(np.float64), type=2, axis=1, norm="ortho")[:, :n_mfcc]
    delta = np.diff(mfcc, axis=2)
    return np.concatenate([mfcc.mean(2), mfcc.std(2), delta.mean(2), delta.std(2)], axis=1).astype(np.float32)


@dataclass
class RidgeRegression:
    """Standardised features → targets by ridge regression; the penalty is picked on a held-out fifth of the data."""

    penalties: tuple[float, ...] = (0.1, 1.0, 10.0, 100.0, 1000.0)
    seed: int = 0

    def fit(self, features: np.ndarray, targets: np.ndarray) -> "RidgeRegression":
        self.mean, self.std = features.mean(0), features.std(0) + 1e-8
        x = (features - self.mean) / self.std
        order = np.random.default_rng(self.seed).permutation(len(x))
        cut = len(x) // 5
        held, kept = order[:cut], order[cut:]
        errors = [np.mean((self._solve(x[kept], targets[kept], p)(x[held]) - targets[held]) ** 2)
                  for p in self.penalties]
        self.penalty = self.penalties[int(np.argmin(errors))]
        self._predict = self._solve(x, targets, self.penalty)
        return self

    @staticmethod
    def _solve(x: np.ndarray, y: np.ndarray, penalty: float):
        x1 = np.concatenate([x, np.ones((len(x), 1))], axis=1).astype(np.float64)
        ridge = penalty * np.eye(x1.shape[1])
        ridge[-1, -1] = 0.0  # the intercept is not penalised
        weights = np.linalg.solve(x1.T @ x1 + ridge, x1.T @ y)
        return lambda z: np.concatenate([z, np.ones((len(z), 1))], axis=1) @ weights

    def predict(self, features: np.ndarray) -> np.ndarray:
        return self._predict((features - self.mean) / self.std).astype(np.float32)
