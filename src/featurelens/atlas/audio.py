"""An atlas of an audio model: each unit's grown spectrograms with their sound, and its top and bottom clips.

The examples are the examples pass's over clips (`dataset_examples.run.plan_pass`: one pass over the clips for all
layers, ranked by the peak over time), written by its clip inputs (`dataset_examples.clip_inputs`): each clip and
its spectrogram once under clips/ and spectrograms/, each excerpt under excerpts/. The renders are `render`'s
audio renders: a log-mel that maximizes (minimizes) the unit, as a picture and as a WAV (Griffin-Lim).

`SoundParts` is what the store asks for an audio model (`atlas.store.PARTS`); it reads the atlas being built through
`atlas.parts.AtlasBuild`, so imports run one way, store → audio.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from featurelens.atlas.parts import AtlasBuild
from featurelens.atlas.pass_data import LayerPass
from featurelens.atlas.settings import DISTRIBUTION_SAMPLE
from featurelens.capture import capture_activations
from featurelens.dataset_examples.run import plan_pass
from featurelens.geometry import ReceptiveField, time_fields
from featurelens.models import LoadedModel
from featurelens.atlas.files import render_path, save_picture
from featurelens.dataset_examples.clip_inputs import channel_blocks
from featurelens.output.sound import write_wav
from featurelens.progress import ProgressArg
from featurelens.rendering import RenderSettings, plan_render
from featurelens.rendering.sizes import AUTO

if TYPE_CHECKING:
    from featurelens.atlas.manifest import LayerEntry

SOUND = "wav"
PEAK_OVER_TIME = "peak over time"  # what the audio score is called on the pages


class SoundParts:
    """An audio model's atlas (the store's `ModalityParts` for sound): fields in spectrogram frames, a max and a min
    sound per unit grown one chunk at a time, examples from one pass over the clips."""

    def fields(self, model: LoadedModel, layers: list[str]) -> dict[str, ReceptiveField]:
        return frame_fields(model, layers)

    def render(self, store: AtlasBuild, entry: LayerEntry, chunks: list[list[int]], progress: ProgressArg) -> None:
        for channels in chunks:  # grown spectrograms and their sound, one render job per chunk
            store.store_renders(entry, audio_renders(store, entry, channels, progress))

    def examples(self, store: AtlasBuild, entries: list[LayerEntry], progress: ProgressArg) -> None:
        """Clips of the units that have none yet: one audio pass (quick: clips, not images) for their layers."""
        todo = {e.name: [c for c in e.units if c not in set(e.examples)] for e in entries}
        store.report.examples_skipped += sum(len(e.units) - len(todo[e.name]) for e in entries)
        entries = [e for e in entries if todo[e.name]]
        if not entries:
            return
        found = audio_examples(store, entries, progress)
        store.report.passes += len(entries)
        with store.report.timing("writing"):
            for entry in entries:
                store.update_records(entry, {c: found[entry.name][c] for c in todo[entry.name]})
                entry.examples = sorted(set(entry.examples) | set(todo[entry.name]))
                store.manifest.save(store.folder)
                store.write_unit_pages(entry, set(todo[entry.name]))
        store.report.examples_built += sum(len(channels) for channels in todo.values())

    def summary(self, model: LoadedModel) -> dict:
        """The pages speak of clips, frames and sounds, and say when units cannot be rendered."""
        return {"modality": "audio", "renders": model.modality.renders}


def frame_fields(model: LoadedModel, layers: list[str]) -> dict[str, ReceptiveField]:
    """What each layer's units hear, as the atlas stores fields: one row of spectrogram frames (size, stride, offset in frames)."""
    fields = {}
    for name, found in time_fields(model, layers).items():
        fields[name] = ReceptiveField(name, (1, found.size), (1, found.stride), (0, found.offset), (1, model.input_size), found.method)
    return fields


def audio_renders(store: AtlasBuild, entry: LayerEntry, channels: list[int], progress: ProgressArg) -> dict[int, dict]:
    """Grow the max and min spectrograms of `channels` (one render job), write picture and sound; record parts per channel."""
    s = store.settings
    units = [f"{entry.name}:{c}" for c in channels]
    size = s.size if s.size is not None else AUTO
    with store.report.timing("render"):
        result = plan_render(store.model, units + [f"-{unit}" for unit in units], RenderSettings(size=size, steps=s.steps, seed=s.seed)).run(progress)
    if result.interrupted:
        raise KeyboardInterrupt
    ext, parts = store.manifest.settings["image_format"], {}
    with store.report.timing("writing"):
        for i, channel in enumerate(channels):
            urls, sounds, figures = {}, {}, {}
            for kind, sound, sign in (("max", result.units[i], 1.0), ("min", result.units[len(channels) + i], -1.0)):
                urls[kind] = render_path(entry.name, channel, kind, ext)
                sounds[kind] = render_path(entry.name, channel, kind, SOUND)
                save_picture(sound.image, store.folder / urls[kind])
                write_wav(store.folder / sounds[kind], sound.sound.waveform, result.sample_rate)
                figures[kind] = {"activation": sign * sound.activation, "heard": sign * sound.sound.heard, "noise": sign * sound.sound.noise,
                                 "extreme": _extreme(store.model, entry.name, channel, sound.sound.log_mel, kind)}
            parts[channel] = {"renders": {**urls, "diverse": []}, "sounds": sounds, "audio_figures": figures}
    return parts


@torch.no_grad()
def _extreme(model: LoadedModel, layer: str, channel: int, log_mel: np.ndarray, kind: str) -> float:
    """The unit's peak over time on a grown log-mel [bands, frames] (its trough for the min), as the clips are ranked."""
    values = capture_activations(model.module, torch.from_numpy(log_mel)[None].to(model.device), [layer])[layer][0, channel].float()
    return float(values.max() if kind == "max" else values.min())


def audio_examples(store: AtlasBuild, entries: list[LayerEntry], progress: ProgressArg) -> dict[str, dict[int, dict]]:
    """One audio examples pass for `entries`; the clips, spectrograms and excerpts written into the atlas; per layer,
    per channel the record's `examples` (top and bottom clips with paths relative to the atlas and the excerpt in %)
    and `distribution` (the unit's peak over time on every clip, or a seeded sample of them)."""
    s = store.settings
    plan = plan_pass(store.model, store.manifest.data, [e.name for e in entries], s.k, "max", limit=s.limit,
                     distribution=DISTRIBUTION_SAMPLE)
    with store.report.timing("examples"):
        result = plan.run(progress=progress)
    if result.interrupted:
        raise KeyboardInterrupt
    found: dict[str, dict[int, dict]] = {}
    with store.report.timing("writing"):
        wanted = {entry.name: set(store.manifest.layer(entry.name).units) for entry in entries}  # each set made once
        rows = [row for row in result.examples() if row.channel in wanted[row.layer]]
        result.inputs.write(result, rows, store.folder, {}, None)
        for entry, layer in zip(entries, result.layers):
            spread = LayerPass.of(layer)
            for block in channel_blocks([row for row in rows if row.layer == entry.name]):
                channel = block["channel"]
                found.setdefault(entry.name, {})[channel] = {
                    "examples": {kind["kind"]: [_example(ex) for ex in kind["examples"]] for kind in block["kinds"]},
                    "distribution": spread.distribution(channel, PEAK_OVER_TIME, "clips"),
                }
            entry.pass_info = {"images": result.items_seen, "entries": result.entries, "skipped": len(result.skipped),
                               "seconds": round(result.seconds, 3), "notes": result.notes}
    return found


def _example(ex: dict) -> dict:
    row = ex["row"]
    return {"rank": row.rank, "score": row.score, "item": row.item, "label": row.label, "index": row.index, "step": row.step,
            "peak": row.peak, "start": row.start, "end": row.end, "duration": row.duration, "clip": ex["clip"],
            "spectrogram": ex["spectrogram"], "excerpt": ex["excerpt"], "outline": ex["outline"]}
