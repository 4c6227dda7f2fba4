"""The running state of an audio examples pass, as its checkpoint file stores it.

Clips wait in groups of equal length before they form a batch, and files are read ahead of the network,
so what is done is a set of entries (clips ranked, and files that gave no clip), not a prefix; a rerun
reads every other entry. The load report and the clips' lengths are kept for the done entries only,
so each awkward file is said once however many runs it took.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from featurelens.audio.sources import LoadReport
from featurelens.dataset_examples.distribution import ScoreSample
from featurelens.dataset_examples.topk import Ranked


@dataclass
class AudioExamplesState:
    fingerprint: dict
    done: list[int]  # entries done: ranked, or read and found to give no clip
    items_seen: int
    seconds: float
    ranked: Ranked  # every channel's rows (on the CPU)
    report: LoadReport
    samples: dict[int, int]  # entry → samples of each ranked clip
    widths: dict[str, dict[int, int]] = field(default_factory=dict)  # 2-D maps: layer → entry → frames there
    sample: ScoreSample | None = None

    @property
    def entries(self) -> int:
        return len(self.done)

    def to_dict(self) -> dict:
        """Plain dicts, lists and tensors only, so `torch.load(weights_only=True)` can read it back."""
        return {
            "format": 1, "kind": "audio", "fingerprint": self.fingerprint, "done": list(self.done),
            "items_seen": self.items_seen, "seconds": self.seconds,
            "ranked": self.ranked.to_dict(),
            "report": self.report.to_dict(), "samples": dict(self.samples), "widths": self.widths,
            "sample": self.sample.to_dict() if self.sample is not None else None,
        }

    @classmethod
    def from_dict(cls, data: dict) -> "AudioExamplesState":
        if data.get("format") != 1 or data.get("kind") != "audio":
            raise ValueError("not an audio examples checkpoint")
        return cls(
            fingerprint=data["fingerprint"], done=[int(i) for i in data["done"]], items_seen=int(data["items_seen"]),
            seconds=float(data["seconds"]), ranked=Ranked.from_dict(data["ranked"]),
            report=LoadReport.from_dict(data["report"]), samples={int(i): int(n) for i, n in data["samples"].items()},
            widths={layer: {int(i): int(w) for i, w in widths.items()} for layer, widths in data["widths"].items()},
            sample=ScoreSample.from_dict(data["sample"]) if data.get("sample") is not None else None,
        )

    def on(self, device: torch.device | str) -> tuple[Ranked, ScoreSample | None]:
        """The rankings and the score sample, on `device`, to go on with."""
        return self.ranked.to(device), self.sample.to(device) if self.sample is not None else None
