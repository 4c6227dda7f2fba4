"""`learn_dictionary`: learn a sparse dictionary over one layer of a model, streamed from a data source, and measure it.

`plan_dictionary` checks the job (what `--dry-run` describes); `DictionaryPlan.run` streams the layer's rows
(`stream`), fits the scale, the pre-bias (and the archetypes) on the first batches, trains (`train`, checkpointed)
or sets an anchored one in closed form (`closed_form`), and measures the result on the evaluation data (`metrics`,
and `purity` where the data has labels).

The verb is `featurelens.learn_dictionary`, not `featurelens.dictionary`: that name is this package (its files,
`Dictionary`, `load_dictionary`), and a function shadowing a package surprises every `import featurelens.dictionary.x`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from itertools import chain, islice
from pathlib import Path
from typing import Any, Iterator

import torch

from featurelens.dataset_examples.checkpoint import load_checkpoint, save_checkpoint
from featurelens.dataset_examples.layers import layer_names, layer_shapes
from featurelens.dataset_examples.shards import check_shardable
from featurelens.data.sources import ImageSource, open_source
from featurelens.dictionary.closed_form import fit_closed_form
from featurelens.dictionary.file import DEFAULT_NAME, METHODS, Dictionary, check_name
from featurelens.dictionary.labels import labels_of
from featurelens.dictionary.metrics import DictionaryMetrics, measure
from featurelens.dictionary.purity import Purity, feature_purity, unit_purity
from featurelens.dictionary.sae import SparseAutoencoder, kmeans
from featurelens.dictionary.stream import RowStream
from featurelens.dictionary.train import TrainingState, train_autoencoder
from featurelens.dictionary.whitening import Whitening
from featurelens.engine import Engine, check_engine
from featurelens.errors import FeaturelensError, bad_parameter, require_positive
from featurelens.models import LoadedModel, model_for, weights_digest
from featurelens.progress import ProgressArg, shown_by_default
from featurelens.quick import shrink

FIT_ROWS = 262_144  # rows of the first batches the scale, pre-bias and archetypes are fitted on
KMEANS_ROWS = 16_384  # of those, the points k-means clusters into archetypes


@dataclass(frozen=True)
class DictionarySettings:
    """Knobs of a dictionary job (see `learn_dictionary`); the CLI's options read their defaults from here."""

    method: str = "topk"
    features: int | None = None  # None: 8 × the layer's channels
    k: int = 8
    steps: int | None = None  # None: from `epochs`
    epochs: float = 1.0
    batch_rows: int = 4096
    learning_rate: float = 1e-3
    buffer_rows: int = 262_144
    images_per_forward: int = 256
    limit: int | None = None
    size: int | None = None
    name: str = DEFAULT_NAME
    eval_data: Any = None  # None: fashion-mnist:test for fashion-mnist:train, else the training data
    eval_limit: int | None = 10_000
    purity: bool = True
    whiten: bool = True  # learn over ZCA-whitened rows (`whitening`), written back as a dictionary over the raw layer
    archetypes: int | None = None  # archetypal, anchored: k-means centroids the atoms mix (None: as many as features)
    anchored: bool = False  # encoder rows keep their archetype's direction; only gains and biases are learned (`sae`)
    anchor_relaxation: float = 0.0  # anchored: how far (in norm) an encoder direction may move from its archetype's
    closed_form: bool = False  # anchored topk: standardized gains and biases, least-squares decoder, no gradient steps (`closed_form`)
    extreme_share: float = 0.06  # archetypal, anchored: the share of rows farthest from the mean that the archetypes cluster
    relaxation: float = 0.01
    dead_after_rows: int = 200_000
    checkpoint: str | Path | None = None
    checkpoint_every: int = 200
    resume: bool | None = None
    engine: str = "local"  # "ray": the activation pass runs on Ray workers; the same batches, the same dictionary
    address: str | None = None  # with "ray": the cluster to join (None: start a local Ray instance)


@dataclass
class DictionaryResult:
    """A learned dictionary and its figures. `save(path)` writes the dictionary file (metrics included)."""

    dictionary: Dictionary
    metrics: DictionaryMetrics | None
    neuron_purity: Purity | None
    feature_purity: Purity | None
    steps: int
    rows: int
    seconds: float
    interrupted: bool
    notes: list[str] = field(default_factory=list)

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        d = self.dictionary
        lines = [f"{d.address} of {d.model}: {d.features} features over {d.channels} channels, {d.method} k={d.k}; "
                 f"{self.steps} steps, {self.rows} positions in {self.seconds:.1f} s ({self.rows_per_second:,.0f} positions/s)"
                 + (" (interrupted)" if self.interrupted else "")]
        if self.metrics is not None:
            lines.append(self.metrics.summary())
        if self.neuron_purity is not None and self.feature_purity is not None:
            lines.append("neurons " + self.neuron_purity.summary())
            lines.append("live features " + self.feature_purity.summary(self.metrics.live if self.metrics else None))
        return "\n".join(lines)

    def save(self, path: Path | str) -> Path:
        return self.dictionary.save(path)


@dataclass
class DictionaryPlan:
    """A checked dictionary job: `describe()` says what `run(progress)` would do."""

    model: LoadedModel
    layer: str
    source: ImageSource
    eval_source: ImageSource | None
    size: int
    channels: int
    positions: int
    steps: int
    seed: int
    settings: DictionarySettings
    fingerprint: dict
    engine: Engine = field(default_factory=Engine)
    model_spec: str | None = None  # what Ray workers load (None: the model travels pickled)
    resume_state: TrainingState | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def features(self) -> int:
        return self.settings.features or 8 * self.channels

    def describe(self) -> str:
        s = self.settings
        entries = min(len(self.source), s.limit) if s.limit else len(self.source)
        epochs = self.steps * s.batch_rows / max(1, entries * self.positions)
        start = f"; continuing after step {self.resume_state.step}" if self.resume_state else ""
        measured = f"; measured on {self.eval_source.name}" if self.eval_source is not None else ""
        forward = f"; the activation pass on Ray workers{self.engine.describe()}" if self.engine.is_ray else ""
        kind = f"{s.method} dictionary" + (" (anchored, set in closed form)" if s.closed_form else "")
        return (f"learn a {kind} of {self.features} features (k={s.k}) over {self.layer} of {self.model.spec} "
                f"({self.channels} channels × {self.positions} positions) on {self.model.device}: {self.steps} steps of "
                f"{s.batch_rows} positions ({epochs:.2f} epochs of {entries} entries of {self.source.name}), "
                f"buffer {s.buffer_rows} rows, seed {self.seed}{forward}{start}{measured}")

    def run(self, progress: ProgressArg = None) -> DictionaryResult:
        """Stream, fit, train (checkpointed), measure. Ctrl-C keeps what finished (and the checkpoint to continue)."""
        s = self.settings
        stream = RowStream(self.model, self.layer, self.source, self.size, s.batch_rows, self._buffer_rows(),
                           self._images_per_forward(), self.seed, passes=None, limit=s.limit, engine=self.engine, model_spec=self.model_spec)
        batches = iter(stream)
        try:
            first = list(islice(batches, max(1, min(self.steps, FIT_ROWS // s.batch_rows))))
            if not first:
                raise FeaturelensError(f"the source {self.source.name!r} gave fewer rows than one batch ({s.batch_rows}): lower {{parameter}}",
                                       parameter="batch_rows")
            first_rows = torch.cat(first)
            autoencoder, whitening = self._fitted_autoencoder(first_rows)
            prepare = whitening if whitening is not None else (lambda rows: rows / autoencoder.scale)
            fit_rows = prepare(first_rows) if s.closed_form else None
            scaled = (prepare(rows) for rows in chain(first, batches))
            del first, first_rows  # the chain lets go of the first batches once they are trained on
            checkpoint = Path(s.checkpoint) if s.checkpoint else None
            save = (lambda state: save_checkpoint(state, checkpoint)) if checkpoint else None
            if s.closed_form:
                state, interrupted = self._closed_form(autoencoder, fit_rows, scaled, progress), False
            else:
                state, interrupted = train_autoencoder(autoencoder, scaled, self.steps, s.learning_rate, s.dead_after_rows,
                                                       self.fingerprint, self.resume_state, s.checkpoint_every, save, progress)
        finally:
            batches.close()  # the stream's capture hooks come off the model
        settings = {**{key: value for key, value in _plain(asdict(s)).items() if key not in _RUN_KEYS},
                    "seed": self.seed, "steps": self.steps, "data": self.source.name, "size": self.size}
        dictionary = autoencoder.to_dictionary(self.model.spec, self.layer, s.name, settings)
        if whitening is not None:
            dictionary = whitening.to("cpu").fold(dictionary)
        if checkpoint is not None:
            save_checkpoint(state, checkpoint) if interrupted else checkpoint.unlink(missing_ok=True)
        metrics, neurons, features = None, None, None
        if self.eval_source is not None and not interrupted:
            labels = labels_of(self.eval_source)
            metrics = measure(self.model, dictionary, self.eval_source, self.size, labels, s.eval_limit)
            dictionary.metrics = metrics.to_dict()
            if s.purity and labels is not None and metrics.inputs >= 9:
                neurons = unit_purity(self.model, self.eval_source, self.layer, labels, limit=s.eval_limit)
                features = feature_purity(self.model, dictionary, self.eval_source, labels, limit=s.eval_limit)
                dictionary.metrics["purity"] = {"data": self.eval_source.name, "neurons": neurons.figures(),
                                                "live_features": features.figures(metrics.live)}
        dictionary.to("cpu")
        return DictionaryResult(dictionary, metrics, neurons, features, state.step, state.step * s.batch_rows,
                                state.seconds, interrupted, list(self.notes))

    def _closed_form(self, autoencoder: SparseAutoencoder, fit_rows: torch.Tensor, batches: Iterator[torch.Tensor],
                     progress: ProgressArg) -> TrainingState:
        """`fit_closed_form` over `steps` batches, reported as a training state (no optimizer, nothing to resume)."""
        read, seconds = fit_closed_form(autoencoder, fit_rows, batches, self.steps, progress=progress)
        return TrainingState(read, {}, {}, torch.zeros(0, dtype=torch.long), seconds, self.fingerprint)

    def _buffer_rows(self) -> int:
        """The shuffle buffer: the setting, or less when the data has fewer rows (no need to hold a pass twice)."""
        s = self.settings
        entries = min(len(self.source), s.limit) if s.limit else len(self.source)
        needed = max(2 * s.batch_rows, 2 * self.positions * self._images_per_forward(), entries * self.positions)
        return min(s.buffer_rows, needed) if entries else s.buffer_rows

    def _images_per_forward(self) -> int:
        """Inputs per forward pass: the setting, lowered so that two passes' rows fit the buffer."""
        return max(1, min(self.settings.images_per_forward, self.settings.buffer_rows // (2 * self.positions)))

    def _fitted_autoencoder(self, rows: torch.Tensor) -> tuple[SparseAutoencoder, Whitening | None]:
        """An autoencoder fitted to `rows` (the first batches) and the whitening it learns under (None: scale only).

        Whitened: rows are ZCA-whitened (`whitening`) and the autoencoder works at scale 1. Else: rows are divided by
        the scale that makes their mean squared norm the channel count, and the pre-bias starts at their mean.
        Archetypal or anchored: the archetypes are k-means centroids of the `extreme_share` of rows farthest from the mean
        (archetypes are extreme points of the data, as in archetypal analysis). Weights come from the seed."""
        s = self.settings
        generator = torch.Generator().manual_seed(self.seed + 1)
        rows = rows.cpu()
        whitening = Whitening.fit(rows) if s.whiten else None
        scale = 1.0 if whitening else float(rows.pow(2).sum(1).mean().sqrt()) / math.sqrt(rows.shape[1]) or 1.0
        prepared = whitening(rows) if whitening else rows / scale
        mean = prepared.mean(0)
        archetypes = None
        if s.method == "archetypal" or s.anchored:
            centred = prepared - mean
            count = min(len(centred), max(self.features, int(s.extreme_share * len(centred))))
            extremes = centred[centred.norm(dim=1).topk(count).indices]
            points = extremes[torch.randperm(len(extremes), generator=generator)[:KMEANS_ROWS]]
            archetypes = kmeans(points, s.archetypes or self.features, generator)
        autoencoder = SparseAutoencoder(s.method, rows.shape[1], self.features, s.k, scale, mean, generator,
                                        archetypes=archetypes, relaxation=s.relaxation,
                                        metric=whitening.inverse if whitening is not None else None,
                                        anchors=archetypes[torch.arange(self.features) % len(archetypes)] if s.anchored else None,
                                        anchor_relaxation=s.anchor_relaxation)
        return autoencoder.to(self.model.device), whitening.to(self.model.device) if whitening else None


def plan_dictionary(model: LoadedModel | str, data: Any, layer: str, settings: DictionarySettings | None = None, *,
                    device: torch.device | str | None = None, seed: int = 0) -> DictionaryPlan:
    """Check a dictionary job without running it (see `learn_dictionary`); cheap checks first."""
    s = shrink(settings or DictionarySettings())
    _check(s)
    engine = check_engine(s.engine, s.address, None, device)
    loaded = model_for(model, device)
    names = layer_names(loaded, layer)
    if len(names) != 1:
        raise bad_parameter("layer", f"names {len(names)} layers: a dictionary is learned over one")
    source = open_source(data)
    if engine.is_ray:
        check_shardable(source)
    size = s.size or loaded.input_size
    shape = layer_shapes(loaded, names, size)[names[0]]
    channels, positions = shape[0], math.prod(shape[1:])
    features = s.features or 8 * channels
    if s.k > features:
        raise bad_parameter("k", f"({s.k}) is more than the features ({features})")
    entries = min(len(source), s.limit) if s.limit else len(source)
    if s.steps is None and not entries:
        raise bad_parameter("steps", "must be given for a source whose length is unknown")
    steps = s.steps or max(1, int(s.epochs * entries * positions // s.batch_rows))
    eval_source = open_source(_eval_data(data, s.eval_data)) if (s.eval_data is not None or isinstance(data, (str, Path))) else None
    fingerprint = {"model": loaded.spec, "weights": weights_digest(loaded.module), "layer": names[0],
                   "source": source.fingerprint() or source.name, "size": size, "seed": seed,
                   **{key: value for key, value in _plain(asdict(s)).items() if key in _TRAINING_KEYS}, "steps": steps}
    plan = DictionaryPlan(loaded, names[0], source, eval_source, size, channels, positions, steps, seed, s, fingerprint, engine,
                          model if isinstance(model, str) else None)
    if s.checkpoint is not None:
        _continue(plan, Path(s.checkpoint), s.resume)
    return plan


_RUN_KEYS = ("checkpoint", "resume", "engine", "address")  # how a run went, not what it learned: left out of the file
_TRAINING_KEYS = ("method", "features", "k", "batch_rows", "learning_rate", "buffer_rows", "images_per_forward", "limit",
                  "whiten", "anchored", "anchor_relaxation", "closed_form", "archetypes", "extreme_share", "relaxation", "dead_after_rows")


def _check(s: DictionarySettings) -> None:
    if s.method not in METHODS:
        raise FeaturelensError(f"unknown {{parameter}} {s.method!r}: use {', '.join(METHODS)}", parameter="method")
    check_name(s.name)
    for name in ("k", "batch_rows", "buffer_rows", "images_per_forward", "dead_after_rows"):
        require_positive(name, getattr(s, name))
    for name in ("features", "steps", "limit", "eval_limit", "archetypes"):
        if getattr(s, name) is not None:
            require_positive(name, getattr(s, name))
    require_positive("epochs", s.epochs)
    require_positive("learning_rate", s.learning_rate)
    require_positive("checkpoint_every", s.checkpoint_every, allow_zero=True)
    if not 0 < s.extreme_share <= 1:
        raise bad_parameter("extreme_share", f"must be in (0, 1], got {s.extreme_share}")
    if not 0 <= s.anchor_relaxation < 2:
        raise bad_parameter("anchor_relaxation", f"must be in [0, 2), got {s.anchor_relaxation}")
    if s.closed_form and not (s.anchored and s.method == "topk"):
        raise bad_parameter("closed_form", "needs --anchored and --method topk: it sets an anchored topk dictionary's gains, biases and decoder")
    if not 0 <= s.relaxation < 1:
        raise bad_parameter("relaxation", f"must be in [0, 1), got {s.relaxation}")


def _eval_data(data: Any, eval_data: Any) -> Any:
    if eval_data is not None:
        return eval_data
    return "fashion-mnist:test" if str(data) == "fashion-mnist:train" else data


def _continue(plan: DictionaryPlan, path: Path, resume: bool | None) -> None:
    """Continue from the checkpoint at `path` when it matches (`resume` True insists, False ignores it)."""
    if resume is False:
        return
    state, problem = load_checkpoint(path, TrainingState.from_dict)
    if state is None:
        if resume:
            raise FeaturelensError(f"{{parameter}}: {problem} at {path}; start without {{parameter}}", parameter="resume")
        return
    if state.fingerprint != plan.fingerprint:
        differ = ", ".join(sorted(key for key in plan.fingerprint if plan.fingerprint[key] != state.fingerprint.get(key)))
        if resume:
            raise FeaturelensError(f"{{parameter}}: the checkpoint {path} was made with other settings ({differ}); start afresh instead",
                                   parameter="resume")
        plan.notes.append(f"ignoring the checkpoint {path}, made with other settings ({differ}); starting afresh")
        return
    plan.resume_state = state
    plan.notes.append(f"resuming from {path}: {state.step} of {plan.steps} steps done")


def _plain(values: dict) -> dict:
    """Settings as plain values a dictionary file can hold (paths as text, other objects by name)."""
    return {key: value if isinstance(value, (int, float, str, bool, type(None))) else str(getattr(value, "name", value))
            for key, value in values.items()}


def learn_dictionary(
    model: LoadedModel | str,
    data: Any,
    layer: str,
    settings: DictionarySettings | None = None,
    *,
    device: torch.device | str | None = None,
    progress: ProgressArg = None,
    seed: int = 0,
    **keywords: Any,
) -> DictionaryResult:
    """Learn a sparse dictionary (sparse autoencoder) over every position of `layer` of `model`, streamed from `data`.

    `data`: a folder, "fashion-mnist:train" / "fashion-mnist:test" / "photos", or an iterable of images. Knobs come
    as `settings` or keywords (`method="topk" | "batchtopk" | "archetypal"`, `features`, `k`, `steps` or `epochs`,
    `batch_rows`, `checkpoint`, …; see `DictionarySettings`). The same seed gives the same bytes on the same machine.
    `engine="ray"` runs the activation pass on Ray workers (`address`: the cluster to join, None starts a local Ray
    instance) and shuffles their rows in the local order: the same dictionary wherever the forward pass gives the same
    floats on the workers (one torch thread each) as here.
    The result has the `Dictionary` (`.save(path)` writes the file `--dictionary FILE` reads), its figures on the
    evaluation data (FVE, L0, dead features, accuracy with the layer reconstructed; top-9 class purity of neurons and
    live features where the data has labels), `.summary()`, `.seconds` and `.interrupted`.
    """
    try:
        settings = DictionarySettings(**{**(asdict(settings) if settings else {}), **keywords})
    except TypeError as err:
        raise FeaturelensError(f"learn_dictionary: {err}") from None
    return plan_dictionary(model, data, layer, settings, device=device, seed=seed).run(shown_by_default(progress))
