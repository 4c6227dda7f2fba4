"""The entries an examples pass has finished, and one batch of them as the network takes it.

Images are read in order, so what is done is a prefix; clips wait in groups of equal length, so some
finish ahead of others. `DoneEntries` holds both: every entry below `prefix`, and the ones `beyond` it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import torch

from featurelens.data.sources import Skipped


@dataclass(frozen=True)
class DoneEntries:
    """Entries finished (ranked, or read and found to give nothing): all below `prefix`, and those in `beyond`."""

    prefix: int = 0
    beyond: frozenset[int] = frozenset()

    def __len__(self) -> int:
        return self.prefix + len(self.beyond)

    def __contains__(self, entry: object) -> bool:
        return isinstance(entry, int) and (entry < self.prefix or entry in self.beyond)

    def through(self, end: int) -> "DoneEntries":
        """These and every entry below `end`."""
        return DoneEntries(max(self.prefix, end), frozenset(i for i in self.beyond if i >= end)).adding(())

    def adding(self, entries: Iterable[int]) -> "DoneEntries":
        """These and `entries`, the ones that now follow the prefix without a gap folded into it."""
        beyond, prefix = set(self.beyond).union(int(i) for i in entries), self.prefix
        while prefix in beyond:
            beyond.discard(prefix)
            prefix += 1
        return DoneEntries(prefix, frozenset(i for i in beyond if i >= prefix))

    def to_dict(self) -> dict:
        """Plain ints (what a checkpoint stores)."""
        return {"prefix": self.prefix, "beyond": sorted(self.beyond)}

    @classmethod
    def from_dict(cls, data: dict) -> "DoneEntries":
        return cls(int(data["prefix"]), frozenset(int(i) for i in data["beyond"]))


@dataclass
class EntryBatch:
    """One batch of a pass: `inputs` the network takes for entries `indices`, and what is done once it is ranked."""

    inputs: torch.Tensor  # on the model's device, ready for its module (normalised images, spectrograms)
    indices: torch.Tensor  # [B] entry indices
    done: DoneEntries  # entries finished once this batch is ranked (unreadable ones included)
    read: int  # entries read so far, in source order (what the progress shows)
    skipped: list[Skipped] = field(default_factory=list)  # unreadable entries this batch finishes
    originals: torch.Tensor | None = None  # the entries as read, kept for a source that cannot be read again
