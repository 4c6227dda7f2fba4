"""The entries of an audio model's examples: clips heard through its front end, each example the excerpt its unit hears.

What an examples result and its writer ask of sound (`result.ExampleInputs`): the rows with the time of the peak and
the excerpt, an entry as a picture (its log-mel spectrogram), the table's columns, and the files:
clips/<ENTRY>.wav and spectrograms/<ENTRY>.png once per clip, excerpts/<LAYER>/c<C>-<KIND><RANK>.wav; the pages give
each example an <audio> player for the excerpt and one for the whole clip.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Collection, Iterator, Mapping

import numpy as np
import torch

from featurelens.dataset_examples.files import channel_blocks as shown_by_channel
from featurelens.dataset_examples.rows import AudioExample, ranked_slots
from featurelens.output.images import safe_filename, to_pil
from featurelens.output.spectrogram import spectrogram_picture

if TYPE_CHECKING:
    from featurelens.audio.clip_source import AudioSource
    from featurelens.models import LoadedModel


@dataclass
class ClipInputs:
    """Entries of `source` as `model` heard them (resampled, mixed to mono, padded to its receptive field)."""

    model: LoadedModel
    source: AudioSource

    noun = "clips"  # class attributes, not fields: fixed for sound
    figures = "dataset_examples/_clips.html.j2"
    players_per_example = 2  # the excerpt and the whole clip

    @property
    def sample_rate(self) -> int:
        return self.model.audio.sample_rate

    def item(self, index: int) -> str:
        return self.source.item(index)

    def clip(self, index: int) -> np.ndarray:
        """Entry `index` as the model heard it: float32 [samples] at `sample_rate`."""
        return self.source.clip(index)

    def log_mel(self, index: int, clip: np.ndarray | None = None) -> np.ndarray:
        """The log-mel spectrogram of entry `index` (`clip`: its audio, when already read), [bands, frames]: the one the
        model saw, or for a model without a log-mel front end (torchcrepe) one for people to look at."""
        with torch.no_grad():
            waveform = torch.from_numpy(self.clip(index) if clip is None else clip).to(self.model.device)
            return self.model.audio.log_mel(waveform[None])[0].cpu().numpy()

    def picture(self, index: int) -> np.ndarray:
        """uint8 [H, W, 3]: the clip's spectrogram, cut or padded to the model's clip length (so pictures stack)."""
        frames = self._frames()
        picture = spectrogram_picture(self.log_mel(index)[:, :frames])
        return np.pad(picture, ((0, 0), (0, frames - picture.shape[1]), (0, 0)))

    def no_pictures(self) -> np.ndarray:
        return np.zeros((0, 1, self._frames(), 3), np.uint8)

    def _frames(self) -> int:
        return self.model.audio.log_mel_frames(self.model.audio.clip_samples)

    def rows(self, layers: list, channels: Mapping[str, Collection[int]] | None) -> Iterator[AudioExample]:
        """Every (layer, channel, kind, rank) row with the peak's step and time and the excerpt heard there."""
        for layer, channel, kind, rank in ranked_slots(layers, channels):
            ranked, heard = layer.ranked[kind], layer.receptive_field
            index, step = int(ranked.indices[channel, rank]), int(ranked.x[channel, rank])
            samples = self.source.samples[index]
            start, end = heard.excerpt(step, samples)
            yield AudioExample(layer.layer, channel, kind, rank + 1, float(ranked.scores[channel, rank]), index, self.item(index),
                               self.source.label(index), step, heard.peak_seconds(step, samples), start, end, samples / self.sample_rate)

    def facts(self, layers: list) -> dict:
        """What summary.json adds for sound: the sample rate and what was done to awkward files."""
        report = self.source.report
        return {
            "modality": "audio",
            "sample_rate": self.sample_rate,
            "resampled": {str(rate): count for rate, count in report.resampled.items()},
            "mixed_to_mono": list(report.mixed_to_mono),
            "silent": list(report.silent),
            "padded": list(report.padded),
        }

    def write_table(self, rows: list[AudioExample], path: Path) -> Path:
        """The table as Parquet: layer, channel, kind, rank, score, item, label, step, peak, start, end, duration."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        columns = {name: [getattr(row, name) for row in rows] for name in
                   ("layer", "channel", "kind", "rank", "score", "item", "label", "step", "peak", "start", "end", "duration")}
        types = {"channel": pa.int32(), "rank": pa.int32(), "step": pa.int32(), "score": pa.float32()}
        pq.write_table(pa.table({name: pa.array(values, types.get(name)) for name, values in columns.items()}), path)
        return path

    def write(self, result: Any, rows: list[AudioExample], out_dir: Path, projections: Mapping, workers: int | None) -> None:
        """Each example clip once (WAV and spectrogram), then every excerpt cut from it."""
        by_index: dict[int, list[AudioExample]] = defaultdict(list)
        for row in rows:
            by_index[row.index].append(row)
        for folder in {out_dir / "clips", out_dir / "spectrograms"} | {(out_dir / excerpt_path(row)).parent for row in rows}:
            folder.mkdir(parents=True, exist_ok=True)
        rate = self.sample_rate
        for index, clip_rows in sorted(by_index.items()):
            audio = self.clip(index)
            _write_wav(out_dir / clip_path(index), audio, rate)
            to_pil(spectrogram_picture(self.log_mel(index, audio))).save(out_dir / spectrogram_path(index), compress_level=1)
            for row in clip_rows:
                _write_wav(out_dir / excerpt_path(row), audio[round(row.start * rate):round(row.end * rate)], rate)

    def blocks(self, result: Any, layer: Any, rows: list[AudioExample], projections: Mapping) -> list[dict]:
        """Template data: per channel (headed by what it stands for, e.g. a pitch), the top and the bottom clips with
        paths, caption and excerpt outline (in %)."""
        blocks = channel_blocks(rows)
        for block in blocks:
            block["label"] = self.model.unit_label(layer.layer, block["channel"])
        return blocks

    def page_facts(self) -> dict:
        """What the pages show of sound: wide spectrograms, the sample rate."""
        return {"thumb": 240, "sample_rate": self.sample_rate}


def channel_blocks(rows: list[AudioExample]) -> list[dict]:
    """Per channel, the top and the bottom clips with paths and the excerpt's outline in % of the clip."""
    return shown_by_channel(rows, _figure)


def _figure(row: AudioExample) -> dict:
    return {"clip": clip_path(row.index), "spectrogram": spectrogram_path(row.index), "excerpt": excerpt_path(row),
            "outline": {"left": 100 * row.start / row.duration, "width": 100 * (row.end - row.start) / row.duration}}


def clip_path(index: int) -> str:
    return f"clips/{index:07d}.wav"


def spectrogram_path(index: int) -> str:
    return f"spectrograms/{index:07d}.png"


def excerpt_path(row: AudioExample) -> str:
    return f"excerpts/{safe_filename(row.layer)}/c{row.channel:04d}-{row.kind}{row.rank:02d}.wav"


def _write_wav(path: Path, audio: np.ndarray, sample_rate: int) -> None:
    import soundfile

    soundfile.write(str(path), np.clip(audio, -1.0, 1.0), sample_rate, subtype="PCM_16")
