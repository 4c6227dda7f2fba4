"""How well one score per input separates positives from negatives: ROC AUC and the best threshold, for many units at once.

Scores are a matrix [inputs, units]. The AUC is the Mann–Whitney statistic: the chance that a random positive scores
above a random negative, ties counting half (average ranks), so it needs no threshold and ignores the class balance.
A unit that fires *less* on the concept separates it too: its AUC is below 0.5 and `direction` says "below".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def roc_auc(positives: np.ndarray, negatives: np.ndarray) -> np.ndarray:
    """AUC of each column: `positives` [P, U] and `negatives` [N, U] scores → [U] in [0, 1] (ties count half)."""
    positives, negatives = np.atleast_2d(positives.T).T, np.atleast_2d(negatives.T).T
    from scipy.stats import rankdata  # here, not at the top: scipy.stats costs every command half a second at start

    p, n = len(positives), len(negatives)
    ranks = rankdata(np.concatenate([positives, negatives]).astype(np.float64), axis=0)  # 1-based, ties averaged
    return (ranks[:p].sum(0) - p * (p + 1) / 2) / (p * n)


@dataclass(frozen=True)
class Threshold:
    """The cut that classifies best: `value` per unit, the accuracy it gets (balanced: the mean of the hit rates on
    positives and on negatives, so 10 000 negatives do not drown 60 positives), and which side is the concept."""

    value: np.ndarray  # [U]
    accuracy: np.ndarray  # [U] balanced accuracy in [0.5, 1]
    above: np.ndarray  # [U] bool: the concept is the side above the threshold


def best_thresholds(positives: np.ndarray, negatives: np.ndarray) -> Threshold:
    """For each column, the threshold (midway between two neighbouring scores) with the highest balanced accuracy,
    the concept on whichever side does better."""
    values, accuracies, above = [], [], []
    for column in range(positives.shape[1]):
        value, accuracy, side = _best_cut(positives[:, column].astype(np.float64), negatives[:, column].astype(np.float64))
        values.append(value)
        accuracies.append(accuracy)
        above.append(side)
    return Threshold(np.array(values), np.array(accuracies), np.array(above, dtype=bool))


def _best_cut(positive: np.ndarray, negative: np.ndarray) -> tuple[float, float, bool]:
    scores = np.concatenate([positive, negative])
    is_positive = np.concatenate([np.ones(len(positive), bool), np.zeros(len(negative), bool)])
    order = np.argsort(scores, kind="stable")
    scores, is_positive = scores[order], is_positive[order]
    # Cutting after position i (0 … len): inputs 0 … i-1 are called negative, the rest positive. Only cuts between two
    # different scores count (a cut inside a tie cannot be drawn).
    below_pos = np.concatenate([[0], np.cumsum(is_positive)])
    below_neg = np.concatenate([[0], np.cumsum(~is_positive)])
    hit_above = 0.5 * ((len(positive) - below_pos) / len(positive) + below_neg / len(negative))
    cuts = np.concatenate([[True], scores[1:] != scores[:-1], [True]])
    accuracy = np.where(cuts, np.maximum(hit_above, 1 - hit_above), -1.0)
    best = int(np.argmax(accuracy))
    side = bool(hit_above[best] >= 1 - hit_above[best])
    if best == 0:
        value = scores[0] - 1.0
    elif best == len(scores):
        value = scores[-1] + 1.0
    else:
        value = 0.5 * (scores[best - 1] + scores[best])
    return float(value), float(accuracy[best]), side
