"""The running state of an examples pass, images or clips: enough to continue it later and end with the same table."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from featurelens.dataset_examples.distribution import ScoreSample
from featurelens.dataset_examples.entries import DoneEntries
from featurelens.data.sources import Skipped
from featurelens.dataset_examples.topk import Ranked

FORMAT = 2  # 1: the image and the clip passes' own files, before they were one pass


@dataclass
class ExamplesState:
    """Settings fingerprint, entries done, running rankings (on the CPU), and what the entries' reader keeps: the
    winners' images of a one-shot iterable, a clip source's report and lengths (`source`)."""

    fingerprint: dict
    done: DoneEntries = field(default_factory=DoneEntries)
    items_seen: int = 0
    seconds: float = 0.0
    skipped: list[Skipped] = field(default_factory=list)
    ranked: dict[str, dict[str, Ranked]] = field(default_factory=dict)
    cached_images: dict[int, torch.Tensor] = field(default_factory=dict)
    sample: ScoreSample | None = None  # the score distribution so far, when the pass gathers one
    widths: dict[str, dict[int, int]] = field(default_factory=dict)  # layer → entry → map width, where it is the entry's own
    source: dict = field(default_factory=dict)  # the reader's own state (`ClipInputs.checkpoint`); images keep none

    @property
    def entries(self) -> int:
        """Entries done."""
        return len(self.done)

    def to_dict(self) -> dict:
        """Plain dicts, lists and tensors only, so `torch.load(weights_only=True)` can read it back."""
        return {
            "format": FORMAT,
            "fingerprint": self.fingerprint,
            "done": self.done.to_dict(),
            "items_seen": self.items_seen,
            "seconds": self.seconds,
            "skipped": [[s.item, s.reason] for s in self.skipped],
            "ranked": {layer: {kind: r.to_dict() for kind, r in kinds.items()} for layer, kinds in self.ranked.items()},
            "cached_images": {int(i): image.cpu() for i, image in self.cached_images.items()},
            "sample": self.sample.to_dict() if self.sample is not None else None,
            "widths": {layer: dict(widths) for layer, widths in self.widths.items()},
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, data: dict) -> "ExamplesState":
        if data.get("format") != FORMAT:
            raise ValueError(f"unknown checkpoint format {data.get('format')!r}")
        return cls(
            fingerprint=data["fingerprint"],
            done=DoneEntries.from_dict(data["done"]),
            items_seen=int(data["items_seen"]),
            seconds=float(data["seconds"]),
            skipped=[Skipped(str(item), str(reason)) for item, reason in data["skipped"]],
            ranked={layer: {kind: Ranked.from_dict(r) for kind, r in kinds.items()} for layer, kinds in data["ranked"].items()},
            cached_images=dict(data["cached_images"]),
            sample=ScoreSample.from_dict(data["sample"]) if data.get("sample") is not None else None,
            widths={layer: {int(i): int(w) for i, w in widths.items()} for layer, widths in data["widths"].items()},
            source=dict(data["source"]),
        )
