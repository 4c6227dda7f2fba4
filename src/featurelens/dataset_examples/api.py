"""`examples`: each unit's top-k and bottom-k inputs over a dataset, with checkpoints and optional projections.

One plan for images and for sound: the pass itself is `run.PassPlan` (images in order, on Ray too; clips grouped by
length, through their reader); this adds what a long job needs: a checkpoint file saved every N batches and continued
from on the next run (`checkpoint.state_to_resume`), and the projection of every top example (Zeiler & Fergus,
Figure 2), batched, after the pass.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import torch

from featurelens.engine import Engine, check_engine
from featurelens.errors import FeaturelensError, require_positive
from featurelens.dataset_examples.checkpoint import save_checkpoint, state_to_resume
from featurelens.dataset_examples.projections import example_projections
from featurelens.dataset_examples.result import ExamplesResult
from featurelens.dataset_examples.run import PassPlan, plan_pass
from featurelens.dataset_examples.shards import check_shardable
from featurelens.dataset_examples.state import ExamplesState
from featurelens.models import LoadedModel, model_for
from featurelens.progress import ProgressArg, shown_by_default
from featurelens.projection.rectifiers import check_method
from featurelens.quick import shrink


@dataclass
class ExamplesPlan:
    """A checked examples job, of images or of clips. `notes` says what was decided (a checkpoint resumed, ignored and
    why; a batch size lowered)."""

    passplan: PassPlan
    project: str | None = None
    checkpoint: Path | None = None
    checkpoint_every: int = 20
    resume_state: ExamplesState | None = None  # the pass's state read from `checkpoint`
    projection_batch: int = 16
    notes: list[str] = field(default_factory=list)
    engine: Engine = field(default_factory=Engine)

    @property
    def source(self) -> Any:
        """Where the entries come from (an `ImageSource` or an `AudioSource`)."""
        return self.passplan.source

    @property
    def entries(self) -> int:
        """Entries the pass will read (0 when the source cannot say)."""
        return self.passplan.entries

    def describe(self) -> str:
        plan = self.passplan
        extra = f"; projections by {self.project}" if self.project else ""
        start = f"; continuing after {self.resume_state.entries} entries" if self.resume_state else ""
        where = self.engine.describe() or f" on {plan.model.device}"
        return f"find examples of {', '.join(plan.layers)} of {plan.model.spec}{where}: {plan.describe()}{extra}{start}"

    def run(self, progress: ProgressArg = None) -> ExamplesResult:
        """The pass (checkpointed), then the projections. Ctrl-C keeps what finished, and the checkpoint to continue from."""
        save = (lambda state: save_checkpoint(state, self.checkpoint)) if self.checkpoint else None
        stream = None
        if self.engine.is_ray:
            from featurelens.dataset_examples.on_ray import examples_stream  # Ray only when asked for

            stream = examples_stream(self.engine)
        every = self.checkpoint_every if save else 0
        if self.engine.is_ray and every:
            every = 1  # after every merged shard: a few per worker, each many batches
        result = self.passplan.run(self.resume_state, every, save, progress, stream)
        if self.project and not result.interrupted:
            started = time.perf_counter()
            result.projection_method = self.project
            try:
                result.projections = example_projections(
                    self.passplan.model, result, self.project, batch_size=self.projection_batch, progress=progress
                )
            except KeyboardInterrupt:
                result.interrupted = True
            result.projection_seconds = time.perf_counter() - started
        if self.checkpoint is not None:
            if result.interrupted:
                save_checkpoint(result.state, self.checkpoint)
            else:
                self.checkpoint.unlink(missing_ok=True)
        return result


@dataclass(frozen=True)
class ExamplesSettings:
    """Knobs of an examples job (see `examples`)."""

    k: int = 9
    reduce: str = "max"
    batch_size: int = 64
    size: int | None = None
    limit: int | None = None
    project: str | None = None
    checkpoint: str | Path | None = None
    checkpoint_every: int = 20
    resume: bool | None = None
    workers: int | None = None  # local: threads decoding image files; ray: Ray workers at once
    engine: str = "local"
    address: str | None = None


def plan_examples(
    model: LoadedModel | str, data: Any, layers: Sequence[str] | str, settings: ExamplesSettings | None = None,
    *, device: torch.device | str | None = None,
) -> ExamplesPlan:
    """Check an examples job without running it (see `examples`)."""
    s = shrink(settings or ExamplesSettings())
    if s.project is not None:
        check_method(s.project)
    require_positive("checkpoint_every", s.checkpoint_every, allow_zero=True)
    engine = check_engine(s.engine, s.address, s.workers, device)
    loaded = model_for(model, device)
    passplan = plan_pass(loaded, data, layers, s.k, s.reduce, s.batch_size, size=s.size, limit=s.limit, device=device,
                         workers=None if engine.is_ray else s.workers)
    _refuse_unavailable(passplan, s)
    passplan.model_spec = model if isinstance(model, str) else None  # what Ray workers load
    if engine.is_ray:
        check_shardable(passplan.source)
    plan = ExamplesPlan(passplan, s.project, Path(s.checkpoint) if s.checkpoint else None, s.checkpoint_every,
                        notes=list(passplan.notes), engine=engine)
    if plan.checkpoint is not None:
        plan.resume_state, note = state_to_resume(plan.checkpoint, s.resume, passplan.fingerprint)
        if note:
            plan.notes.append(note)
    return plan


def _refuse_unavailable(passplan: PassPlan, s: ExamplesSettings) -> None:
    """A one-line error for a setting the model's kind of entry does not take (a clip has no `size`, no projection)."""
    for name, default in passplan.inputs.unavailable.items():
        value = getattr(s, name)
        if value != default:
            raise FeaturelensError(f"{{parameter}} is not available for an {passplan.model.modality.name} model's examples "
                                   f"(got {value!r})", parameter=name)


def examples(
    model: LoadedModel | str,
    data: Any,
    layers: Sequence[str] | str,
    *,
    k: int = ExamplesSettings.k,
    reduce: str = ExamplesSettings.reduce,
    batch_size: int = ExamplesSettings.batch_size,
    size: int | None = None,
    limit: int | None = None,
    project: str | None = None,
    checkpoint: str | Path | None = None,
    checkpoint_every: int = ExamplesSettings.checkpoint_every,
    resume: bool | None = None,
    workers: int | None = None,
    engine: str = ExamplesSettings.engine,
    address: str | None = None,
    device: torch.device | str | None = None,
    progress: ProgressArg = None,
) -> ExamplesResult:
    """Top-k and bottom-k inputs of every channel of `layers` over `data`, in one pass.

    `data`: a folder of images, "fashion-mnist:train" / "fashion-mnist:test" / "photos", or any
    iterable of images (tensors, arrays, PIL images, (image, label) pairs). `reduce` "max" ranks by
    the spatial peak, "mean" by the spatial mean. `project` ("deconvnet", "guided" or "gradient")
    also projects every top example. With `checkpoint` (a file path) the running state is saved
    every `checkpoint_every` batches (on Ray: after every merged shard) and a rerun continues from it
    (`resume`: True insists, False ignores, None continues when it matches). Ctrl-C returns what finished.
    `engine` "ray" ranks shards of `data` on Ray workers and merges them into the same table as "local"
    (`address`: the cluster to join, None starts a local Ray instance; `workers`: Ray workers at once —
    with "local", threads decoding image files). Checkpoints of either engine continue on the other.

    An audio model (`music-cnn`) takes a folder of audio files (wav, flac, ogg, mp3) or "music" (the built-in
    collection) and ranks clips by the peak (or mean) of each channel over time; each example has the time of
    the peak and the excerpt the unit hears (its `inputs` a `ClipInputs`). Unreadable files are skipped and
    counted; other sample rates are resampled, stereo mixed down, clips shorter than the receptive field
    zero-padded; `result.notes` says each once.
    """
    settings = ExamplesSettings(k, reduce, batch_size, size, limit, project, checkpoint, checkpoint_every, resume, workers,
                                engine, address)
    return plan_examples(model, data, layers, settings, device=device).run(shown_by_default(progress))
