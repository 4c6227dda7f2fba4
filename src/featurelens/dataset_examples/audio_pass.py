"""The examples pass for an audio model: stream clips through the front end and the network once, keep each
channel's top-k and bottom-k clips with the time step of the peak (trough).

Same ranking as images (`topk.StreamingTopK`: by the peak over time, or the mean over time; ties by entry
order), so a pass equals ranking each clip alone. The front end runs once per batch, a batch ahead in a
thread of its own; the network stops at the deepest requested layer (`ActivationCapture`).
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch

from featurelens.capture import ActivationCapture
from featurelens.dataset_examples.ahead import run_ahead
from featurelens.audio.clip_source import AudioSource, ClipBatch, open_audio_source
from featurelens.dataset_examples.audio_state import AudioExamplesState
from featurelens.dataset_examples.distribution import ScoreSample
from featurelens.dataset_examples.clip_inputs import ClipInputs
from featurelens.dataset_examples.result import ExamplesResult, LayerExamples, RankedExamples
from featurelens.data.sources import Skipped
from featurelens.dataset_examples.run import channel_spans, check_settings, empty_sample, layer_names, layer_shapes, rank_batch
from featurelens.dataset_examples.topk import Ranked, StreamingTopK
from featurelens.errors import FeaturelensError
from featurelens.geometry import TimeField, time_fields
from featurelens.models import LoadedModel, weights_digest
from featurelens.progress import ProgressArg, reporting


@dataclass
class ClipPassPlan:
    """A checked pass over an audio model's clips (what `api.ExamplesPlan` runs for sound)."""

    model: LoadedModel
    layers: list[str]
    source: AudioSource
    fields: dict[str, TimeField]
    channels: dict[str, int]
    k: int
    reduce: str
    batch_size: int
    limit: int | None = None
    notes: list[str] = field(default_factory=list)  # what planning decided (a batch size lowered)
    distribution: int = 0  # clips sampled per channel for the score distribution (0: none; see dataset_examples.distribution)
    read_state = staticmethod(AudioExamplesState.from_dict)  # how its checkpoint file is read (a class attribute, not a field)

    @property
    def entries(self) -> int:
        return min(len(self.source), self.limit) if self.limit else len(self.source)

    def describe(self) -> str:
        """What the pass reads and how it ranks: "8 audio files of music at 16000 Hz, top and bottom 9 by the peak over time"."""
        over = "peak" if self.reduce == "max" else "mean"
        return (f"{self.entries} audio files of {self.source.name} at {self.model.audio.sample_rate} Hz, top and bottom "
                f"{self.k} by the {over} over time")

    @functools.cached_property
    def fingerprint(self) -> dict:
        """What must match for a checkpoint to be continued (the weights are hashed once per plan)."""
        return {"model": self.model.spec, "weights": weights_digest(self.model.module), "source": self.source.fingerprint(),
                "layers": list(self.layers), "k": self.k, "reduce": self.reduce, "limit": self.limit,
                "distribution": self.distribution}

    def run(self, resume: AudioExamplesState | None = None, checkpoint_every: int = 0,
            on_checkpoint: Callable[[AudioExamplesState], None] | None = None, progress: ProgressArg = None,
            stream: None = None) -> ExamplesResult:
        """One pass, continued from `resume`, its state handed to `on_checkpoint` every `checkpoint_every` batches;
        Ctrl-C keeps the clips ranked so far (`interrupted`, and `state` to continue from). Clips run here (no `stream`)."""
        model, audio = self.model, self.model.audio
        table = StreamingTopK(self.channels, self.k, self.reduce, model.device)
        max_rows = table.max_rows().to(model.device)
        run = _Running.resumed(self, table, resume) if resume is not None else _Running.fresh(self, table)
        started, interrupted, batches = time.perf_counter() - run.seconds, False, 0
        try:
            with torch.no_grad(), ActivationCapture(model.module, self.layers) as capture, \
                    reporting(progress, f"examples of {len(self.layers)} layer(s)", rate_unit="clips", transient=True) as report:
                for batch, spectra in run_ahead(self._spectra(frozenset(run.done))):
                    acts = capture.run(spectra)
                    for layer, act in acts.items():
                        if act.dim() == 4:
                            run.widths[layer].update(dict.fromkeys(batch.indices.tolist(), act.shape[-1]))
                    run.ranked, run.sample = rank_batch(table, run.ranked, run.sample, max_rows, acts, batch.indices)
                    run.done.update(batch.indices.tolist())
                    run.seen, batches = run.seen + len(batch.indices), batches + 1
                    report.update(batch.end, self.entries)
                    if on_checkpoint is not None and checkpoint_every and batches % checkpoint_every == 0:
                        on_checkpoint(run.state(self, time.perf_counter() - started))
        except KeyboardInterrupt:
            interrupted = True
        if run.seen == 0 and not interrupted:
            unreadable = self.source.report.unreadable
            reason = f": none of the {len(unreadable)} files could be read (e.g. {unreadable[0][0]}: {unreadable[0][1]})" if unreadable else ""
            raise FeaturelensError(f"the source {self.source.name!r} gave no clips{reason}")
        layers = [LayerExamples(n, self.channels[n], 1, 0, self.fields[n],  # a clip's map is as wide as it is long
                                _ranked_examples(table.layer_ranked(run.ranked, n), run.widths[n]),
                                run.sample.rows(*span) if run.sample is not None and run.seen else None)
                  for n, span in zip(self.layers, channel_spans(self.channels))]
        notes = self.source.report.lines(audio.sample_rate, self.source.min_samples)
        entries = len(run.done | self.source.failed())
        skipped = [Skipped(item, reason) for item, reason in self.source.report.unreadable]
        seconds = time.perf_counter() - started
        return ExamplesResult(model.spec, self.source, layers, self.k, self.reduce, ClipInputs(model, self.source), run.seen,
                              max(entries, run.seen), skipped, notes, interrupted, seconds, run.state(self, seconds))

    def _spectra(self, skip: frozenset[int]) -> Iterator[tuple[ClipBatch, torch.Tensor]]:
        """Each batch of clips (but the `skip` entries) with the network's input, made ahead in a thread (`run_ahead`):
        reading and the front end of the next batch overlap the network and the ranking of this one."""
        with torch.no_grad():
            for batch in self.source.batches(self.batch_size, self.limit, skip):
                yield batch, self.model.audio.spectrogram(batch.waveforms.to(self.model.device))


@dataclass
class _Running:
    """What a pass has done so far: the rankings, the score sample, the entries done, 2-D maps' widths."""

    ranked: Ranked
    sample: ScoreSample | None
    done: set[int]
    seen: int
    widths: dict[str, dict[int, int]]
    seconds: float = 0.0

    @classmethod
    def fresh(cls, plan: ClipPassPlan, table: StreamingTopK) -> "_Running":
        device = plan.model.device
        return cls(Ranked.empty(table.rows, device), empty_sample(table, plan.distribution, device), set(), 0,
                   {layer: {} for layer in plan.layers})

    @classmethod
    def resumed(cls, plan: ClipPassPlan, table: StreamingTopK, state: AudioExamplesState) -> "_Running":
        plan.source.restore(state.report, state.samples)
        ranked, sample = state.on(plan.model.device)
        widths = {layer: dict(state.widths.get(layer, {})) for layer in plan.layers}
        return cls(ranked, sample, set(state.done), state.items_seen, widths, state.seconds)

    def state(self, plan: ClipPassPlan, seconds: float) -> AudioExamplesState:
        """The checkpoint: the clips ranked and the files that gave none, with their report and lengths only."""
        done = sorted(self.done | plan.source.failed())
        samples = {index: plan.source.samples[index] for index in self.done if index in plan.source.samples}
        sample = self.sample.to("cpu") if self.sample is not None else None
        return AudioExamplesState(plan.fingerprint, done, self.seen, seconds, self.ranked.to("cpu"),
                                  plan.source.report_of(done), samples, self.widths, sample)


def _ranked_examples(kinds: dict[str, Ranked], widths: dict[int, int]) -> dict[str, RankedExamples]:
    """Rankings as arrays with (y, x) of each peak: x is the time step. On a 1-D map the flat position is the step
    (vectors have the one step 0); on a 2-D map [H, T] it is y·T + x, T the clip's own frames there (`widths`)."""
    out = {}
    for kind, ranked in kinds.items():
        positions, indices = ranked.positions.cpu().numpy(), ranked.indices.cpu().numpy()
        if widths and indices.size:
            width = np.vectorize(widths.get, otypes=[np.int64])(indices)
            y, x = positions // width, positions % width
        else:
            y, x = np.zeros_like(positions), positions
        out[kind] = RankedExamples(ranked.scores.cpu().numpy(), indices, y, x)
    return out


def plan_clip_pass(model: LoadedModel, data: Any, layers: Sequence[str] | str, k: int = 9, reduce: str = "max",
                   batch_size: int = 64, limit: int | None = None, distribution: int = 0) -> ClipPassPlan:
    """Check a pass over an audio model's clips: `data` a folder of audio files or "music" (the built-in collection)."""
    check_settings(k, reduce, batch_size, limit)
    names = layer_names(model, layers)
    shapes = layer_shapes(model, names, model.input_size)
    longer = layer_shapes(model, names, model.input_size + 1)  # one frame more: channels must not change with it
    for name in names:
        if longer[name][0] != shapes[name][0] or len(shapes[name]) > (2 if model.audio.map_height == 1 else 3):
            raise FeaturelensError(f"layer {name!r} of {model.spec} (output {shapes[name]}) is no map of channels over "
                                   "time: audio examples rank layers [C, T], [C, H, T] (2-D networks) or vectors [C]")
    fields = time_fields(model, names)  # fails clearly for a model without a spectrogram front end
    audio = model.audio
    min_samples = (model.min_size - 1) * audio.hop_length  # the network's receptive field: shorter clips are padded
    source = open_audio_source(data, audio.sample_rate, min_samples)
    plan = ClipPassPlan(model, names, source, fields, {n: shapes[n][0] for n in names}, k, reduce, batch_size, limit,
                             distribution=distribution)
    if audio.max_batch and batch_size > audio.max_batch:
        plan.batch_size = audio.max_batch
        plan.notes.append(f"{model.spec} runs at most {audio.max_batch} clips at once (batch size {batch_size} lowered)")
    return plan
