"""The running state of an examples pass: enough to continue it later and end with the same table."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from featurelens.dataset_examples.distribution import ScoreSample
from featurelens.data.sources import Skipped
from featurelens.dataset_examples.topk import Ranked


@dataclass
class ExamplesState:
    """Settings fingerprint, entries consumed, running rankings (on the CPU) and, for one-shot iterables, winners' images."""

    fingerprint: dict
    entries: int = 0
    items_seen: int = 0
    seconds: float = 0.0
    skipped: list[Skipped] = field(default_factory=list)
    ranked: dict[str, dict[str, Ranked]] = field(default_factory=dict)
    cached_images: dict[int, torch.Tensor] = field(default_factory=dict)
    sample: ScoreSample | None = None  # the score distribution so far, when the pass gathers one

    def to_dict(self) -> dict:
        """Plain dicts, lists and tensors only, so `torch.load(weights_only=True)` can read it back."""
        return {
            "format": 1,
            "fingerprint": self.fingerprint,
            "entries": self.entries,
            "items_seen": self.items_seen,
            "seconds": self.seconds,
            "skipped": [[s.item, s.reason] for s in self.skipped],
            "ranked": {
                layer: {kind: r.to_dict() for kind, r in kinds.items()}
                for layer, kinds in self.ranked.items()
            },
            "cached_images": {int(i): image.cpu() for i, image in self.cached_images.items()},
            "sample": self.sample.to_dict() if self.sample is not None else None,
        }

    @classmethod
    def from_dict(cls, data: dict) -> "ExamplesState":
        if data.get("format") != 1:
            raise ValueError(f"unknown checkpoint format {data.get('format')!r}")
        return cls(
            fingerprint=data["fingerprint"],
            entries=int(data["entries"]),
            items_seen=int(data["items_seen"]),
            seconds=float(data["seconds"]),
            skipped=[Skipped(str(item), str(reason)) for item, reason in data["skipped"]],
            ranked={
                layer: {kind: Ranked.from_dict(r) for kind, r in kinds.items()}
                for layer, kinds in data["ranked"].items()
            },
            cached_images=dict(data["cached_images"]),
            sample=ScoreSample.from_dict(data["sample"]) if data.get("sample") is not None else None,
        )
