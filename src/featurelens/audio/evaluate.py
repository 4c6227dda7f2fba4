"""Cold-start evaluation: rank held-out songs' clips for each listener and score the ranking against their plays.

Protocol (van den Oord et al. 2013, with songs held out): clips of held-out songs are new to the
recommender; a method gives each (listener, held-out clip) a score; per listener, AUC (how often a clip
they played outranks one they did not) and precision@k (share of played clips among the top k), averaged
over listeners who played at least one and not all held-out clips.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import torch
from scipy import sparse
from scipy.stats import rankdata

from featurelens.audio.instruments import FAMILIES


@dataclass(frozen=True)
class RankingScores:
    """One method's cold-start ranking quality."""

    method: str
    auc: float
    precision: float  # precision@k
    k: int
    listeners: int  # listeners averaged over

    def row(self) -> str:
        return f"| {self.method} | {self.auc:.3f} | {self.precision:.3f} |"


def split_by_song(labels: pa.Table, test_fraction: float = 0.2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Row indices (train, test) of a label table, split by song so that no tune is on both sides."""
    songs = np.array(labels["song"].to_pylist())
    unique = np.unique(songs)
    rng = np.random.default_rng(seed)
    test_songs = set(rng.choice(unique, size=max(1, int(round(test_fraction * len(unique)))), replace=False))
    test = np.array([song in test_songs for song in songs])
    return np.flatnonzero(~test), np.flatnonzero(test)


def ranking_scores(method: str, scores: np.ndarray, held_out: sparse.spmatrix | np.ndarray,
                   k: int = 10) -> RankingScores:
    """AUC and precision@k of `scores` [listeners, items] against held-out plays [listeners, items] (> 0: played).

    Ties share their mean rank in the AUC; precision@k breaks ties by item order.
    """
    played = (held_out.toarray() if sparse.issparse(held_out) else np.asarray(held_out)) > 0
    positives = played.sum(axis=1)
    keep = (positives > 0) & (positives < played.shape[1])
    scores, played, positives = scores[keep], played[keep], positives[keep]
    negatives = played.shape[1] - positives
    ranks = rankdata(scores, axis=1)
    auc = ((ranks * played).sum(axis=1) - positives * (positives + 1) / 2) / (positives * negatives)
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    precision = np.take_along_axis(played, top, axis=1).mean(axis=1)
    return RankingScores(method, float(auc.mean()), float(precision.mean()), k, int(keep.sum()))


def popularity_scores(held_out: sparse.spmatrix) -> np.ndarray:
    """Each held-out clip's plays by all the *other* listeners: a non-personalised ranking that peeks at the
    held-out plays of everyone else (more than a cold-start system can know), so an optimistic reference."""
    dense = held_out.toarray() if sparse.issparse(held_out) else np.asarray(held_out)
    listened = (dense > 0).astype(np.float64)
    return listened.sum(axis=0, keepdims=True) - listened


def random_scores(shape: tuple[int, int], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random(shape)


def results_table(rows: list[RankingScores]) -> str:
    """A Markdown table of the methods' scores."""
    k = rows[0].k if rows else 10
    lines = [f"| method | AUC | precision@{k} |", "|---|---|---|"]
    return "\n".join(lines + [row.row() for row in rows])


@torch.no_grad()
def unit_peaks(module: torch.nn.Module, log_mels: torch.Tensor, layer: str, batch_size: int = 64) -> np.ndarray:
    """Each channel's peak over time in `layer`, per clip: [N, channels] (the score that ranks a unit's top clips)."""
    from featurelens.capture import ActivationCapture

    with ActivationCapture(module, [layer]) as capture:
        return torch.cat([capture.run(log_mels[i:i + batch_size])[layer].amax(dim=-1)
                          for i in range(0, len(log_mels), batch_size)]).numpy()


def family_selectivity(peaks: np.ndarray, families: np.ndarray, k: int = 9) -> dict[str, tuple[int, int]]:
    """For each instrument family: (the unit whose top-k clips hold most of that family, how many of the k)."""
    top = np.argsort(-peaks, axis=0, kind="stable")[:k]  # [k, units]
    best = {}
    for family in FAMILIES:
        hits = (np.asarray(families)[top] == family).sum(axis=0)
        best[family] = (int(hits.argmax()), int(hits.max()))
    return best
