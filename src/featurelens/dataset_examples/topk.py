"""Streaming top-k and bottom-k per channel: one `torch.topk` over [running k | batch] for every channel of every layer.

Every (layer, kind, channel) is one row of a single table, so a batch costs the same handful of
tensor ops whatever the number of layers and channels. Bottom-k rows rank negated scores, so
"lowest first" is "highest first" too. Ranking is total and deterministic: by score, then by lower
entry index. Score and index are packed into one int64 key (the float's bits mapped to an
order-preserving integer, then the index), so `topk` on keys has no ties and the result is the
same for any batch size — streaming equals sorting the whole dataset. Memory: O(rows × k).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

_INDEX_SPAN = 1 << 32  # entry indices must stay below 2**32
KINDS = ("max", "min")
REDUCES = ("max", "mean")


@dataclass
class Ranked:
    """Best `m ≤ k` entries of each row, best first: scores [R, m] float32, entry indices and flat positions [R, m] int64."""

    scores: torch.Tensor
    indices: torch.Tensor
    positions: torch.Tensor

    @classmethod
    def empty(cls, rows: int, device: torch.device | str = "cpu") -> "Ranked":
        return cls(
            torch.empty(rows, 0, device=device),
            torch.empty(rows, 0, dtype=torch.int64, device=device),
            torch.empty(rows, 0, dtype=torch.int64, device=device),
        )

    def to(self, device: torch.device | str) -> "Ranked":
        return Ranked(self.scores.to(device), self.indices.to(device), self.positions.to(device))

    def to_dict(self) -> dict:
        """Its tensors on the CPU, by name (what a checkpoint stores)."""
        return {"scores": self.scores.cpu(), "indices": self.indices.cpu(), "positions": self.positions.cpu()}

    @classmethod
    def from_dict(cls, data: dict) -> "Ranked":
        return cls(data["scores"], data["indices"], data["positions"])


def rank_keys(scores: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
    """int64 keys that order by higher score first, then by lower index; NaN scores rank last."""
    inf = float("inf")
    scores = torch.nan_to_num(scores.float(), nan=-inf, posinf=inf, neginf=-inf) + 0.0  # -0.0 → +0.0: equal floats, equal keys
    bits = scores.view(torch.int32)
    ordered = bits ^ ((bits >> 31) & 0x7FFFFFFF)  # negative floats: flip all but the sign bit, so int order = float order
    return (ordered.to(torch.int64) << 32) | (_INDEX_SPAN - 1 - indices)


def merge_ranked(parts: list[Ranked], k: int) -> Ranked:
    """The best `k` of several rankings of the same rows over disjoint entries, best first, by the same keys.

    Exact: each entry's score and position travel with it, and the keys order totally, so merging the
    rankings of any split of the entries equals ranking them all at once (ties included).
    """
    device = parts[0].scores.device
    scores = torch.cat([p.scores.to(device) for p in parts], 1)
    indices = torch.cat([p.indices.to(device) for p in parts], 1)
    positions = torch.cat([p.positions.to(device) for p in parts], 1)
    top = rank_keys(scores, indices).topk(min(k, scores.shape[1]), dim=1, sorted=True).indices
    return Ranked(scores.gather(1, top), indices.gather(1, top), positions.gather(1, top))


def spatial_scores(flat: torch.Tensor, reduce: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Scores [B, C] of maps `flat` [B, C, N] for top-k and for bottom-k.

    reduce "max": the spatial peak and the spatial trough; "mean": the spatial mean for both.
    """
    if reduce == "mean":
        mean = flat.float().mean(dim=2)
        return mean, mean
    return flat.amax(dim=2), flat.amin(dim=2)


def as_maps(act: torch.Tensor) -> torch.Tensor:
    """[B, C, H, W] (or [B, C] / [B, C, L]) as [B, C, N]."""
    return act.flatten(2) if act.dim() > 2 else act.unsqueeze(2)


class StreamingTopK:
    """Running top-k ("max") and bottom-k ("min") of every channel of several layers.

    Row layout: for each layer in order, its C "max" rows then its C "min" rows. Internally the
    "min" rows hold negated scores; `layer_ranked` gives true scores back.
    """

    def __init__(self, channels: dict[str, int], k: int, reduce: str, device: torch.device | str = "cpu"):
        self.channels = dict(channels)
        self.k = k
        self.reduce = reduce
        self.offsets: dict[str, int] = {}
        rows = 0
        for layer, count in self.channels.items():
            self.offsets[layer] = rows
            rows += 2 * count
        self.rows = rows
        self.ranked = Ranked.empty(rows, device)
        # (layer, kind, first row) of each block of rows, and where the blocks start (plus the end)
        self._blocks = [(layer, kind, self.offsets[layer] + (count if kind == "min" else 0))
                        for layer, count in self.channels.items() for kind in KINDS]
        self._block_starts = torch.tensor([first for _, _, first in self._blocks] + [rows])

    def updated(self, acts: dict[str, torch.Tensor], indices: torch.Tensor) -> Ranked:
        """The ranking after one batch (`acts[layer]` [B, C, …] of entries `indices` [B]); `self` is left unchanged."""
        maps = self.maps(acts)
        return self.ranked_after(maps, self.signed_scores(maps), indices)

    def maps(self, acts: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Each layer's activations as [B, C, N]."""
        return {layer: as_maps(acts[layer]) for layer in self.channels}

    def signed_scores(self, maps: dict[str, torch.Tensor]) -> torch.Tensor:
        """[B, R]: every row's score of each input of the batch (negated for "min" rows)."""
        parts = []
        for layer in self.channels:
            high, low = spatial_scores(maps[layer], self.reduce)
            parts += [high.float(), -low.float()]
        return torch.cat(parts, 1)

    def max_rows(self) -> torch.Tensor:
        """Indices of the "max" rows, layer after layer: the columns of `signed_scores` that hold each channel's top-k score."""
        return torch.cat([torch.arange(first, first + self.channels[layer]) for layer, kind, first in self._blocks if kind == "max"])

    def ranked_after(self, maps: dict[str, torch.Tensor], signed: torch.Tensor, indices: torch.Tensor) -> Ranked:
        """The ranking after one batch whose `maps` and `signed_scores` are given.

        Once a row holds k entries, only a batch score that reaches its k-th can change it; after the first few
        thousand inputs that is a handful of rows per batch, so only those are ranked again.
        """
        running = self.ranked
        done = running.scores.shape[1]
        indices = indices.to(signed.device)
        if done < self.k:
            return self._ranked_rows(running, maps, signed, indices, None)
        inf = float("inf")
        best = torch.nan_to_num(signed, nan=-inf).amax(0)  # NaN ranks last, as -inf does (rank_keys)
        kth = torch.nan_to_num(running.scores[:, -1], nan=-inf)
        rows = torch.nonzero(best >= kth).squeeze(1)  # ties too: the entry index decides those
        if not len(rows):
            return running
        part = self._ranked_rows(Ranked(running.scores[rows], running.indices[rows], running.positions[rows]),
                                 maps, signed[:, rows], indices, rows)
        return Ranked(running.scores.index_copy(0, rows, part.scores), running.indices.index_copy(0, rows, part.indices),
                      running.positions.index_copy(0, rows, part.positions))

    def _ranked_rows(self, running: Ranked, maps: dict[str, torch.Tensor], signed: torch.Tensor, indices: torch.Tensor,
                     rows: torch.Tensor | None) -> Ranked:
        """The rankings of the table's rows `rows` (None: all), whose running part is `running`, after one batch."""
        done, batch = running.scores.shape[1], signed.shape[0]
        count = running.scores.shape[0]
        cand_scores = torch.cat([running.scores, signed.t()], 1)
        cand_indices = torch.cat([running.indices, indices.view(1, batch).expand(count, batch)], 1)
        top = rank_keys(cand_scores, cand_indices).topk(min(self.k, done + batch), dim=1, sorted=True).indices
        positions = running.positions.gather(1, top.clamp(max=done - 1)) if done else torch.zeros_like(top)
        self._locate(maps, positions, top, done, rows)
        return Ranked(cand_scores.gather(1, top), cand_indices.gather(1, top), positions)

    def _locate(self, maps: dict[str, torch.Tensor], positions: torch.Tensor, top: torch.Tensor, done: int,
                rows: torch.Tensor | None) -> None:
        """Fill in the spatial position of the winners that come from this batch (few, once the ranking settles).

        Only for them: an index-returning reduction over the whole batch costs several times a plain max.
        Winners come sorted by table row (`rows[i]` is the table row of row i, or i itself), so each
        (layer, kind) block of rows is one slice of them.
        """
        local, slot = torch.nonzero(top >= done, as_tuple=True)
        if not len(local):
            return
        row = local if rows is None else rows[local]
        batch_row = top[local, slot] - done
        edges = torch.searchsorted(row, self._block_starts.to(row.device)).tolist()
        found = []
        for (layer, kind, first), begin, end in zip(self._blocks, edges, edges[1:]):
            if begin == end:
                continue
            chosen = maps[layer][batch_row[begin:end], row[begin:end] - first]  # [winners, N]
            found.append((chosen.argmax(dim=1) if kind == "max" else chosen.argmin(dim=1), begin, end))  # first occurrence
        for values, begin, end in found:
            positions[local[begin:end], slot[begin:end]] = values

    def layer_ranked(self, ranked: Ranked, layer: str) -> dict[str, Ranked]:
        """{"max": …, "min": …} rows of one layer from a whole-table ranking, with true scores."""
        start, count = self.offsets[layer], self.channels[layer]
        out = {}
        for kind, begin, sign in (("max", start, 1.0), ("min", start + count, -1.0)):
            rows = slice(begin, begin + count)
            out[kind] = Ranked(ranked.scores[rows] * sign, ranked.indices[rows], ranked.positions[rows])
        return out

    def from_layers(self, per_layer: dict[str, dict[str, Ranked]]) -> Ranked:
        """The whole-table ranking from per-layer rankings (as `layer_ranked` gives them)."""
        parts: list[tuple[Ranked, float]] = []
        for layer in self.channels:
            parts += [(per_layer[layer]["max"], 1.0), (per_layer[layer]["min"], -1.0)]
        return Ranked(
            torch.cat([r.scores * sign for r, sign in parts]),
            torch.cat([r.indices for r, _ in parts]),
            torch.cat([r.positions for r, _ in parts]),
        )
