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
from typing import Any, ClassVar, Collection, Iterator, Mapping

import numpy as np
import torch

from featurelens.audio.clip_source import AudioSource, open_audio_source
from featurelens.audio.sources import LoadReport
from featurelens.data.sources import Skipped
from featurelens.dataset_examples.ahead import run_ahead
from featurelens.dataset_examples.entries import DoneEntries, EntryBatch
from featurelens.dataset_examples.files import channel_blocks as shown_by_channel
from featurelens.dataset_examples.layers import layer_shapes
from featurelens.dataset_examples.rows import AudioExample, ranked_slots
from featurelens.errors import FeaturelensError
from featurelens.geometry import TimeField, time_fields
from featurelens.models import LoadedModel
from featurelens.output.images import safe_filename, to_pil
from featurelens.output.spectrogram import spectrogram_picture
from featurelens.output.sound import write_wav


@dataclass
class ClipInputs:
    """Entries of `source` as `model` heard them (resampled, mixed to mono, padded to its receptive field)."""

    model: LoadedModel
    source: AudioSource

    noun = "clips"  # class attributes, not fields: fixed for sound
    figures = "dataset_examples/_clips.html.j2"
    players_per_example = 2  # the excerpt and the whole clip
    unavailable: ClassVar[dict[str, Any]] = {"project": None, "size": None, "engine": "local"}  # refused, with their defaults

    @classmethod
    def opened(cls, model: LoadedModel, data: Any, size: int | None, workers: int | None) -> "ClipInputs":
        """`data` ("music" or a folder of audio files) as `model` hears it; clips are as long as they are (no `size`),
        and shorter ones padded to the network's receptive field."""
        min_samples = (model.min_size - 1) * model.audio.hop_length
        return cls(model, open_audio_source(data, model.audio.sample_rate, min_samples))

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
            write_wav(out_dir / clip_path(index), audio, rate, fit=False)
            to_pil(spectrogram_picture(self.log_mel(index, audio))).save(out_dir / spectrogram_path(index), compress_level=1)
            for row in clip_rows:
                write_wav(out_dir / excerpt_path(row), audio[round(row.start * rate):round(row.end * rate)], rate, fit=False)

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

    # What the examples pass asks of its entries (`run.PassPlan`).

    @property
    def size(self) -> int:
        """Frames of the model's own clip (layers are probed at it; each clip runs at its own length)."""
        return self.model.input_size

    @property
    def max_batch(self) -> int | None:
        """Clips the model takes at once (None: any number)."""
        return self.model.audio.max_batch

    def layer_shapes(self, model: LoadedModel, names: list[str]) -> dict[str, tuple[int, ...]]:
        """Each layer's output, checked to be a map of channels over time ([C, T], [C, H, T]) or a vector [C]."""
        shapes = layer_shapes(model, names, model.input_size)
        longer = layer_shapes(model, names, model.input_size + 1)  # one frame more: channels must not change with it
        for name in names:
            if longer[name][0] != shapes[name][0] or len(shapes[name]) > (2 if model.audio.map_height == 1 else 3):
                raise FeaturelensError(f"layer {name!r} of {model.spec} (output {shapes[name]}) is no map of channels over "
                                       "time: audio examples rank layers [C, T], [C, H, T] (2-D networks) or vectors [C]")
        return shapes

    def fields(self, model: LoadedModel, names: list[str]) -> dict[str, TimeField]:
        """What each layer's units hear of a clip."""
        return time_fields(model, names)

    def describe(self, entries: int, k: int, reduce: str) -> str:
        """"8 audio files of music at 16000 Hz, top and bottom 9 by the peak over time"."""
        over = "peak" if reduce == "max" else "mean"
        return (f"{entries} audio files of {self.source.name} at {self.sample_rate} Hz, top and bottom {k} by the {over} "
                "over time")

    def map_size(self, shape: tuple[int, ...]) -> tuple[int, int]:
        """1 × 0: each clip's map is as wide as the clip is long."""
        return 1, 0

    def batches(self, model: LoadedModel, done: DoneEntries, stop: int | None, batch_size: int) -> Iterator[EntryBatch]:
        """The clips not done, in batches of equal length, through the front end a batch ahead in a thread of its own:
        reading and the front end of the next batch overlap the network and the ranking of this one."""
        return run_ahead(self._spectra(model, done, stop, batch_size))

    def _spectra(self, model: LoadedModel, done: DoneEntries, stop: int | None, batch_size: int) -> Iterator[EntryBatch]:
        with torch.no_grad():  # grad mode is per thread: this runs in `run_ahead`'s
            for batch in self.source.batches(batch_size, stop, done):
                done = done.adding(batch.indices.tolist() + batch.failed)
                skipped = [Skipped(item, reason) for item, reason in self.source.unreadable(batch.failed)]
                spectra = model.audio.spectrogram(batch.waveforms.to(model.device)) if len(batch.indices) else batch.waveforms
                yield EntryBatch(spectra, batch.indices, done, batch.end, skipped)

    def checkpoint(self, done: DoneEntries) -> dict:
        """What the source read of the `done` entries: its report of their files, and their clips' lengths (so each
        awkward file is said once however many runs it took)."""
        return {"report": self.source.report_of(done).to_dict(), "samples": self.source.samples_of(done)}

    def restore(self, state: dict) -> None:
        """Continue where `checkpoint` left off."""
        self.source.restore(LoadReport.from_dict(state["report"]), {int(i): int(n) for i, n in state["samples"].items()})

    def notes(self) -> list[str]:
        """What was done to awkward files, each said once."""
        return self.source.report.lines(self.sample_rate, self.source.min_samples)

    def with_cached(self, images: dict[int, torch.Tensor]) -> "ClipInputs":
        """These inputs: a clip source reads any entry again."""
        return self


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
