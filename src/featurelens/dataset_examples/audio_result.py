"""What `examples` returns for an audio model: each unit's top and bottom clips, the time of its peak and the excerpt it hears."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from featurelens.audio.clip_source import AudioSource
from featurelens.dataset_examples.distribution import ScoreDistribution
from featurelens.dataset_examples.result import RankedExamples
from featurelens.dataset_examples.rows import AudioExample
from featurelens.data.sources import Skipped
from featurelens.dataset_examples.topk import KINDS
from featurelens.geometry import TimeField
from featurelens.models import LoadedModel
from featurelens.dataset_examples.audio_files import write_audio_examples  # the writer reads this result by a Protocol: one way, result → files
from featurelens.output.spectrogram import spectrogram_picture
from featurelens.results import TechniqueResult


@dataclass
class AudioLayerExamples:
    """Top ("max") and bottom ("min") clips of every channel of `layer`; `ranked[kind].x` holds the time step."""

    layer: str
    channels: int
    field: TimeField
    ranked: dict[str, RankedExamples]
    distribution: ScoreDistribution | None = None  # each channel's score over the clips, when the pass gathers it


@dataclass
class AudioExamplesResult(TechniqueResult):
    """Clip examples of every channel of the requested layers, plus the facts of the pass (`notes`: what was done
    to awkward files, said once each)."""

    model: LoadedModel
    source: AudioSource
    layers: list[AudioLayerExamples]
    k: int
    reduce: str
    items_seen: int  # clips that went through the model
    entries: int  # files read (clips + unreadable files)
    notes: list[str] = field(default_factory=list)
    interrupted: bool = False
    seconds: float = 0.0
    entry_noun: str = "clips"

    @property
    def sample_rate(self) -> int:
        return self.model.audio.sample_rate

    @property
    def skipped(self) -> list[Skipped]:
        """Every unreadable file, and why."""
        return [Skipped(item, reason) for item, reason in self.source.report.unreadable]

    def layer(self, name: str) -> AudioLayerExamples:
        return next(layer for layer in self.layers if layer.layer == name)

    def clip(self, index: int) -> np.ndarray:
        """Entry `index` as the model heard it: float32 [samples] at `sample_rate`."""
        return self.source.clip(index)

    def log_mel(self, index: int, clip: np.ndarray | None = None) -> np.ndarray:
        """The log-mel spectrogram of entry `index` (`clip`: its audio, when already read), [bands, frames]: the one the
        model saw, or for a model without a log-mel front end (torchcrepe) one for people to look at."""
        with torch.no_grad():
            waveform = torch.from_numpy(self.clip(index) if clip is None else clip).to(self.model.device)
            return self.model.audio.log_mel(waveform[None])[0].cpu().numpy()

    def examples(self) -> Iterator[AudioExample]:
        """Every (layer, channel, kind, rank) row, layer by layer, channel by channel, "max" before "min"."""
        for layer in self.layers:
            for channel in range(layer.channels):
                for kind in KINDS:
                    ranked = layer.ranked[kind]
                    for rank in range(ranked.scores.shape[1]):
                        index, step = int(ranked.indices[channel, rank]), int(ranked.x[channel, rank])
                        samples = self.source.samples[index]
                        start, end = layer.field.excerpt(step, samples)
                        yield AudioExample(layer.layer, channel, kind, rank + 1, float(ranked.scores[channel, rank]), index,
                                           self.source.item(index), self.source.label(index), step,
                                           layer.field.peak_seconds(step, samples), start, end, samples / self.sample_rate)

    @property
    def images_per_second(self) -> float:
        """Clips per second of the pass (named as every examples result names its speed)."""
        return self.items_seen / self.seconds if self.seconds > 0 else 0.0

    @property
    def total_seconds(self) -> float:
        return self.seconds

    projection_method = None  # audio examples have no projections (a plain class attribute, not a field)

    @property
    def images(self) -> np.ndarray:
        """uint8 [N, H, W, 3]: the spectrogram of each channel's top clip (cut or padded to the model's clip length)."""
        frames = self.model.audio.log_mel_frames(self.model.audio.clip_samples)
        pictures, of_clip = [], {}  # many channels share a top clip: read and picture each once
        for layer in self.layers:
            for channel in range(layer.channels):
                if layer.ranked["max"].indices.shape[1]:
                    index = int(layer.ranked["max"].indices[channel, 0])
                    if index not in of_clip:
                        picture = spectrogram_picture(self.log_mel(index)[:, :frames])
                        of_clip[index] = np.pad(picture, ((0, 0), (0, frames - picture.shape[1]), (0, 0)))
                    pictures.append(of_clip[index])
        return np.stack(pictures) if pictures else np.zeros((0, 1, frames, 3), np.uint8)

    def save(self, path: str | Path) -> Path:
        """Write examples.parquet, summary.json, the pages, spectrograms and the clips and excerpts (WAV) into `path`."""
        return write_audio_examples(self, Path(path))

    def summary(self) -> dict:
        report = self.source.report
        return {
            "model": self.model.spec,
            "modality": "audio",
            "source": self.source.name,
            "layers": [layer.layer for layer in self.layers],
            "k": self.k,
            "reduce": self.reduce,
            "sample_rate": self.sample_rate,
            "items_seen": self.items_seen,
            "entries": self.entries,
            "skipped_count": len(report.unreadable),
            "skipped": [{"item": item, "reason": reason} for item, reason in report.unreadable],
            "notes": list(self.notes),
            "resampled": {str(rate): count for rate, count in report.resampled.items()},
            "mixed_to_mono": list(report.mixed_to_mono),
            "silent": list(report.silent),
            "padded": list(report.padded),
            "interrupted": self.interrupted,
            "seconds": round(self.seconds, 3),
            "clips_per_second": round(self.images_per_second, 1),
            "receptive_fields": {layer.layer: layer.field.summary() for layer in self.layers},
        }
