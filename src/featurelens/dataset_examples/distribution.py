"""The distribution of each channel's per-image score over a dataset, gathered during the examples pass itself.

`ScoreSample` keeps, for every channel, the exact count, minimum, maximum and sum of the score the
top-k ranking uses, and the scores of a uniform random sample of at most `size` images: every entry
gets a pseudo-random priority from a hash of (seed, entry index), and the `size` entries of lowest
priority are kept. So the sample is the same whatever the batch size or order, a resumed pass ends
with the same sample, and a source of at most `size` entries is kept whole (the histogram is exact).
The sample is shared by all channels (one set of images), so a batch costs one small top-k.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

_INDEX_BITS = 32  # entry indices stay below 2**32 (as in topk)


def sample_priority(indices: torch.Tensor, seed: int) -> torch.Tensor:
    """int64 keys, all distinct and positive: 31 bits of a splitmix64 hash of (seed, index), then the index."""
    value = indices.cpu().numpy().astype(np.uint64) + np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15)
    value = (value ^ (value >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    value = (value ^ (value >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    value = value ^ (value >> np.uint64(31))
    keys = ((value >> np.uint64(33)) << np.uint64(_INDEX_BITS)) | indices.cpu().numpy().astype(np.uint64)
    return torch.from_numpy(keys.astype(np.int64)).to(indices.device)


@dataclass(frozen=True)
class ScoreSample:
    """Running figures of `rows` channels' scores; replaced as a whole after each batch (`updated`), like the ranking.

    keys [m] / indices [m]: the sampled entries; scores [rows, m]; count: entries seen; low/high/total [rows]:
    exact minimum, maximum and sum of every row's score over all entries seen.
    """

    size: int
    seed: int
    keys: torch.Tensor
    indices: torch.Tensor
    scores: torch.Tensor
    count: int
    low: torch.Tensor
    high: torch.Tensor
    total: torch.Tensor

    @classmethod
    def empty(cls, rows: int, size: int, seed: int = 0, device: torch.device | str = "cpu") -> "ScoreSample":
        long = torch.empty(0, dtype=torch.int64, device=device)
        return cls(size, seed, long, long.clone(), torch.empty(rows, 0, device=device), 0,
                   torch.full((rows,), float("inf"), device=device), torch.full((rows,), float("-inf"), device=device),
                   torch.zeros(rows, dtype=torch.float64, device=device))

    def updated(self, scores: torch.Tensor, indices: torch.Tensor) -> "ScoreSample":
        """After one batch: `scores` [B, rows] of entries `indices` [B]."""
        scores = scores.float()
        stats = dict(count=self.count + len(indices), low=torch.minimum(self.low, scores.amin(0)),
                     high=torch.maximum(self.high, scores.amax(0)), total=self.total + scores.double().sum(0))
        keys = sample_priority(indices, self.seed).to(scores.device)
        if len(self.keys) == self.size:  # full: only entries that beat the worst kept priority can enter
            wanted = keys < self.keys.max()
            keys, scores, indices = keys[wanted], scores[wanted], indices.to(scores.device)[wanted]
        if not len(keys):
            return replace(self, **stats)
        all_keys = torch.cat([self.keys, keys])
        all_indices = torch.cat([self.indices, indices.to(self.indices.device)])
        all_scores = torch.cat([self.scores, scores.t()], 1)
        if len(all_keys) > self.size:
            kept = all_keys.topk(self.size, largest=False).indices
            all_keys, all_indices, all_scores = all_keys[kept], all_indices[kept], all_scores[:, kept]
        return replace(self, keys=all_keys, indices=all_indices, scores=all_scores, **stats)

    def merged(self, other: "ScoreSample") -> "ScoreSample":
        """The figures of two disjoint sets of entries together: the same as one pass over both (the sample is
        the `size` lowest priorities, whichever pass saw them)."""
        other = other.to(self.keys.device)
        keys, indices = torch.cat([self.keys, other.keys]), torch.cat([self.indices, other.indices])
        scores = torch.cat([self.scores, other.scores], 1)
        if len(keys) > self.size:
            kept = keys.topk(self.size, largest=False).indices
            keys, indices, scores = keys[kept], indices[kept], scores[:, kept]
        return replace(self, keys=keys, indices=indices, scores=scores, count=self.count + other.count,
                       low=torch.minimum(self.low, other.low), high=torch.maximum(self.high, other.high), total=self.total + other.total)

    def rows(self, start: int, stop: int) -> "ScoreDistribution":
        """The figures of rows start … stop-1 (one layer's channels), on the CPU, as numpy."""
        span = slice(start, stop)
        order = torch.argsort(self.indices.cpu())  # sample in entry order: easier to read and compare
        return ScoreDistribution(
            self.scores[span].cpu()[:, order].numpy(), self.indices.cpu()[order].numpy(), self.count,
            self.low[span].cpu().numpy(), self.high[span].cpu().numpy(), (self.total[span].cpu() / max(self.count, 1)).numpy(),
        )

    def to_dict(self) -> dict:
        """Plain values and tensors (for checkpoints read with `weights_only=True`)."""
        return {"size": self.size, "seed": self.seed, "keys": self.keys.cpu(), "indices": self.indices.cpu(), "scores": self.scores.cpu(),
                "count": self.count, "low": self.low.cpu(), "high": self.high.cpu(), "total": self.total.cpu()}

    @classmethod
    def from_dict(cls, data: dict) -> "ScoreSample":
        return cls(int(data["size"]), int(data["seed"]), data["keys"], data["indices"], data["scores"], int(data["count"]),
                   data["low"], data["high"], data["total"])

    def to(self, device: torch.device | str) -> "ScoreSample":
        return replace(self, **{name: getattr(self, name).to(device) for name in ("keys", "indices", "scores", "low", "high", "total")})


@dataclass
class ScoreDistribution:
    """One layer's channels: `sample` [C, m] scores of the sampled entries `indices` [m] (every entry when exact),
    and exact `count`, `low`/`high`/`mean` [C] over all entries."""

    sample: np.ndarray
    indices: np.ndarray
    count: int
    low: np.ndarray
    high: np.ndarray
    mean: np.ndarray

    @property
    def exact(self) -> bool:
        """Whether the sample holds every entry's score."""
        return len(self.indices) == self.count

    def histogram(self, channel: int, bins: int = 32) -> tuple[np.ndarray, np.ndarray]:
        """(edges [bins+1] from the exact minimum to the exact maximum, counts [bins] of the sample)."""
        low, high = float(self.low[channel]), float(self.high[channel])
        if not high > low:
            high = low + 1e-6 * max(1.0, abs(low))  # a constant channel: one full bin
        edges = np.linspace(low, high, bins + 1)
        counts, _ = np.histogram(np.clip(self.sample[channel], low, high), edges)
        return edges, counts
