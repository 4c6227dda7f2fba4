"""Activation maximization: grow images from noise so each drives its unit expression up (or down).

Many units render together: image i of the batch belongs to unit i, and one optimisation runs
for all of them. The forward pass stops at the deepest layer the units need. Units rendered at
different sizes (`size="auto"`) run in separate batches; judges see the finished images at the end.
With engine "ray" the batches run on Ray workers (`rendering.on_ray`), with the same images.
Every model's render is one `RenderPlan`; what it grows is its `medium`: `ImageMedium` here, or for an audio
model `rendering.spectrogram.SoundMedium` (a log-mel or a waveform per unit, made audible).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Protocol, Sequence

import numpy as np
import torch

from featurelens.capture import probe
from featurelens.engine import Engine, check_engine
from featurelens.errors import FeaturelensError
from featurelens.models import LoadedModel, model_for
from featurelens.progress import ProgressArg, reporting, shown_by_default
from featurelens.model_cache import ModelCache
from featurelens.rendering.against_data import Reference, hold_against_data, reference_for, references_cost
from featurelens.quick import shrink
from featurelens.rendering.judging import judge_images
from featurelens.rendering.loop import RenderedChunk, render_chunk
from featurelens.rendering.regularizers import Regularizers
from featurelens.rendering.result import RenderedUnit, RenderResult
from featurelens.models.input_sizes import check_accepted
from featurelens.rendering.settings import RenderSettings
from featurelens.rendering.sizes import AUTO, SizeChoice, choose_sizes, fix_sizes
from featurelens.rendering.spectrogram import sound_medium
from featurelens.rendering.terms import ObjectiveTerm
from featurelens.rendering.transforms import RobustnessTransform
from featurelens.units import UnitExpression, UnitsInput, as_expressions, resolve_expression

JudgesInput = Sequence[str | LoadedModel] | str | LoadedModel


class RenderMedium(Protocol):
    """What a render grows and how a grown unit is shown, the part of a `RenderPlan` its model's modality decides:
    `ImageMedium` (a parameterized image, robust to jitter and scale) or `rendering.spectrogram.SoundMedium` (a log-mel
    or a waveform at fixed loudness, made audible)."""

    def describe(self, plan: RenderPlan) -> str: ...

    def run(self, plan: RenderPlan, progress: ProgressArg) -> RenderResult: ...


@dataclass(frozen=True)
class ImageMedium:
    """Images: each unit's parameterization (`settings.param`) grown in batches of one size (here, or on Ray), then held
    against the data and judged."""

    def describe(self, plan: RenderPlan) -> str:
        s = plan.settings
        units = ", ".join(dict.fromkeys(str(t) for t in plan.targets))
        sides = "/".join(str(side) for side in sorted({c.size for c in plan.sizes}, reverse=True))
        resampled = sorted({c.param_side for c in plan.sizes if c.param_side != c.size})
        size = f"{sides} px" + (f" (parameterized at {'/'.join(map(str, resampled))} px and resampled)" if resampled else "")
        size += " (auto)" if s.size == AUTO else ""
        size += " (the model takes that size only: transforms resample back to it)" if any(c.fixed for c in plan.sizes) else ""
        judged = f"; judged by {', '.join(j.spec for j in plan.judges)}" if plan.judges else ""
        where = f"{plan.engine.describe()} in {len(plan.chunks())} batch(es)" if plan.engine.is_ray else f" on {plan.model.device}"
        reference = plan.data_reference()
        note = f" ({reference.note})" if reference.note else ""
        retry = ", rendering again the ones below it" if s.retry else ""
        return (f"render {len(plan.targets)} image(s) of {plan.model.spec}{where}: {units}; "
                f"{size}, {s.steps} steps, param {s.param}, seed {s.seed}{judged}; held against {reference.title}{note}{retry}; "
                f"fixed cost before the first step: {references_cost(plan.model, reference, plan.targets, plan.sizes, plan.cache)}")

    def run(self, plan: RenderPlan, progress: ProgressArg = None) -> RenderResult:
        """Optimise every image (one size at a time, in batches of at most `max_batch`), then judge them.
        Ctrl-C returns what is done so far."""
        if plan.engine.is_ray:
            from featurelens.rendering.on_ray import render_on_ray  # Ray only when asked for

            return render_on_ray(plan, progress)
        started = time.perf_counter()
        result = plan.empty_result()
        total = len(plan.targets) * plan.settings.steps
        finished: dict[int, RenderedUnit] = {}
        with reporting(progress, f"rendering {len(plan.targets)} image(s)") as report:
            done = 0
            for chunk in plan.chunks():
                tick = lambda work, before=done: report.update(before + work, total)
                rendered = render_chunk(plan.model, [plan.targets[i] for i in chunk], [plan.sizes[i] for i in chunk],
                                        plan.settings, chunk[0], tick)
                plan.keep(result, chunk, rendered, finished)
                if rendered.interrupted:
                    break
                done += len(chunk) * plan.settings.steps
        return plan.finish(result, finished, started)


@dataclass
class RenderPlan:
    """A checked render: the model, each image's unit expression and size, the settings, the judges, and the `medium`
    the units are grown in (images; sound for an audio model). `run()` does the work."""

    model: LoadedModel
    targets: list[UnitExpression]
    settings: RenderSettings
    sizes: list[SizeChoice] = field(default_factory=list)  # one per target
    judges: list[LoadedModel] = field(default_factory=list)
    engine: Engine = field(default_factory=Engine)
    model_spec: str | None = None  # the spec the model was given as (None: a LoadedModel), for Ray workers to load
    reference: Reference | None = None  # the data every image is held against (None: plan_render's default)
    _cache: ModelCache | None = field(default=None, repr=False)
    medium: RenderMedium = field(default_factory=ImageMedium)  # what is grown and how it is shown

    @property
    def cache(self) -> ModelCache:
        """The disk cache of the model's weights (hashed once per plan)."""
        if self._cache is None:
            self._cache = ModelCache.of(self.model)
        return self._cache

    def data_reference(self) -> Reference:
        if self.reference is None:
            self.reference = reference_for(self.model, self.settings.data)
        return self.reference

    def describe(self) -> str:
        return self.medium.describe(self)

    def run(self, progress: ProgressArg = None) -> RenderResult:
        """Grow every unit's input in the plan's medium (`ImageMedium.run`, `SoundMedium.run`). Ctrl-C returns what is done so far."""
        return self.medium.run(self, progress)

    def chunks(self) -> list[list[int]]:
        """Image indices grouped by size (largest first), each group cut into batches of at most `max_batch`."""
        chunks = []
        for sides in sorted({(c.size, c.param_side) for c in self.sizes}, reverse=True):
            indices = [i for i, c in enumerate(self.sizes) if (c.size, c.param_side) == sides]
            chunks.extend(indices[start:start + self.settings.max_batch] for start in range(0, len(indices), self.settings.max_batch))
        return chunks

    def empty_result(self) -> RenderResult:
        reference = self.data_reference()
        return RenderResult(size=self.settings.size, judges=[j.spec for j in self.judges], model=self.model.spec,
                            data=reference.name, data_note=reference.note)

    @staticmethod
    def keep(result: RenderResult, chunk: list[int], rendered: RenderedChunk, finished: dict[int, RenderedUnit]) -> None:
        """Add one rendered chunk (images `chunk` of the plan) to what has finished."""
        result.steps = max(result.steps, rendered.steps)
        result.interrupted = result.interrupted or rendered.interrupted
        finished.update(zip(chunk, rendered.units))

    def finish(self, result: RenderResult, finished: dict[int, RenderedUnit], started: float) -> RenderResult:
        """The finished images in the order of the units, held against the data (the losers rendered again) and judged;
        `interrupted` when some are missing."""
        order = sorted(finished)
        result.units = [finished[i] for i in order]
        result.interrupted = result.interrupted or len(order) < len(self.targets)
        if result.units:
            held = time.perf_counter()
            try:
                hold_against_data(self.model, result.units, [self.targets[i] for i in order], [self.sizes[i] for i in order],
                                  self.settings, self.data_reference(), self.cache, self.settings.retry and not result.interrupted)
            except KeyboardInterrupt:  # the images stand; what was not compared says None
                result.interrupted = True
            result.against_data_seconds = time.perf_counter() - held
        if self.judges and result.units:
            judged = judge_images(self.judges, self.model, [u.image for u in result.units], [self.targets[i] for i in order])
            for unit, figures in zip(result.units, judged):
                unit.judged = figures
        result.seconds = time.perf_counter() - started
        return result


def plan_render(
    model: LoadedModel | str,
    units: UnitsInput,
    settings: RenderSettings | None = None,
    *,
    device: torch.device | str | None = None,
    **overrides,
) -> RenderPlan:
    """Check a render without running it: settings, units against the model at each unit's render size, judges.
    An audio model's plan grows a sound per unit (`SoundMedium`: a log-mel or a waveform, made audible)."""
    settings = shrink(replace(settings or RenderSettings(), **overrides))
    engine = check_engine(settings.engine, settings.address, settings.workers, device)
    expressions = as_expressions(units)
    loaded = model_for(model, device)
    return _PLANS[loaded.modality.name](model, loaded, expressions, settings, engine)


def _image_plan(model: LoadedModel | str, loaded: LoadedModel, expressions: list[UnitExpression], settings: RenderSettings,
                engine: Engine) -> RenderPlan:
    """An image model's render: units resolved and sized, images grouped in batches, judges loaded."""
    settings.check(loaded, len(expressions))
    first_size = loaded.input_size if settings.size == AUTO else settings.size
    layers = list(dict.fromkeys(layer for e in expressions for layer in e.layers))
    check_accepted(loaded, first_size, layers)
    resolved = [resolve_expression(e, loaded, probe(loaded, first_size)) for e in expressions]
    choices = choose_sizes(loaded, resolved, settings.size)
    if settings.interpolate:  # frames blend both units: one size for all
        choices = [max(choices, key=lambda c: c.size)] * len(choices)
    for expression, choice in zip(resolved, choices):
        if choice.size != first_size:  # positions and reachable layers depend on the size
            check_accepted(loaded, choice.size, expression.layers)
            resolve_expression(expression, loaded, probe(loaded, choice.size))
    choices = fix_sizes(loaded, choices, layers, settings.transforms)
    targets = _image_targets(resolved, settings)
    sizes = choices[:1] * len(targets) if settings.interpolate else [c for c in choices for _ in range(settings.batch)]
    judges = [model_for(judge, loaded.device) for judge in judge_list(settings.judge)]
    return RenderPlan(loaded, targets, settings, sizes, judges, engine, model if isinstance(model, str) else None,
                      reference_for(loaded, settings.data))


def render(
    model: LoadedModel | str,
    units: UnitsInput,
    *,
    size: int | str = RenderSettings.size,
    steps: int = RenderSettings.steps,
    param: str = RenderSettings.param,
    lr: float | None = None,
    batch: int = RenderSettings.batch,
    seed: int = RenderSettings.seed,
    diversity: float = RenderSettings.diversity,
    interpolate: bool = False,
    transforms: RobustnessTransform | None = RobustnessTransform(),
    regularizers: Regularizers = Regularizers(),
    decorrelate: bool = True,
    max_batch: int = RenderSettings.max_batch,
    out_size: int | None = None,
    judge: JudgesInput = (),
    engine: str = RenderSettings.engine,
    address: str | None = None,
    workers: int | None = None,
    data: str | None = None,
    retry: bool = RenderSettings.retry,
    terms: Sequence[ObjectiveTerm] = (),
    precision: str = RenderSettings.precision,
    device: torch.device | str | None = None,
    progress: ProgressArg = None,
) -> RenderResult:
    """Render one image per unit (× `batch`), all optimised together.

    `model`: a spec or a `LoadedModel`; `units`: one address (`"_blocks.8:3"`, a range `"_blocks.8:0..7"`,
    `"logit:Egyptian cat"`, `"-A"` to minimize, `"A+B"`) or a list. `size`: pixels, or "auto" (the model's
    input size for units that see the whole input, such as class logits; 128 px for the others).
    `param`: "fft" (Lucid's Fourier basis), "pixel", "maco" or "cppn" (draws at any `out_size` afterwards);
    `transforms` None turns transformation robustness off. `judge`: model specs (or loaded models) that
    judge every finished image: the class's probability and rank for class units, and how photo-like
    the image's features are (`RenderedUnit.judged`). Ctrl-C returns what is done so far
    (`interrupted` True). The same `seed` gives the same images on the same machine.
    `engine` "ray" renders the batches of `max_batch` images on Ray workers (`address`: the cluster to join,
    None starts a local instance; `workers`: at most this many at once), with the same images as "local".
    An audio model (`music-cnn`) grows one log-mel spectrogram per unit (`size`: frames, "auto" its clip) at a fixed
    loudness, robust to time and pitch shifts unless `transforms` is None, and makes it audible: an
    `RenderResult` whose units carry their `sound` and whose `.save` writes a PNG and a WAV per unit.
    Every image is held against `data` (a source spec; None: the model's own data, fashion-cnn's test set, else the
    bundled photos) on its own objective: `data_best` and `beats_data` per image, and with `retry` the images below
    the data's best are rendered again from that best item (`retry` says how); the data's best is cached per weights.
    `terms`: objective terms of your own, each subtracted per image after the priors and diversity (`rendering.terms`).
    `precision` "bfloat16" runs the network's steps and the robustness samples under autocast (images, Adam, the
    activation and the figures at other sizes stay float32).
    """
    settings = RenderSettings(
        size=size, steps=steps, param=param, lr=lr, batch=batch, seed=seed, diversity=diversity, interpolate=interpolate,
        transforms=transforms, regularizers=regularizers, decorrelate=decorrelate, max_batch=max_batch, out_size=out_size,
        judge=tuple(judge_list(judge)), engine=engine, address=address, workers=workers, data=data, retry=retry,
        terms=tuple(terms), precision=precision,
    )
    return plan_render(model, units, settings, device=device).run(shown_by_default(progress))


def _audio_plan(model: LoadedModel | str, loaded: LoadedModel, expressions: list[UnitExpression], settings: RenderSettings,
                engine: Engine) -> RenderPlan:
    """An audio model's render: one log-mel (or waveform) per unit (`size`: frames, "auto" the model's clip), sonified."""
    defaults = RenderSettings()
    for name in ("param", "batch", "diversity", "interpolate", "decorrelate", "out_size", "judge", "engine", "regularizers", "data", "terms", "precision"):
        if getattr(settings, name) != getattr(defaults, name):
            raise FeaturelensError(f"{{parameter}} is not available for an audio model's render", parameter=name)
    frames = None if settings.size == AUTO else settings.size
    resolved = [resolve_expression(e, loaded, probe(loaded, frames)) for e in expressions]
    medium = sound_medium(loaded, resolved, frames, settings.lr)
    sizes = [SizeChoice(medium.frames, "the model's clip" if frames is None else "given")] * len(resolved)
    return RenderPlan(loaded, resolved, settings, sizes, [], engine, model if isinstance(model, str) else None, medium=medium)


_PLANS = {"image": _image_plan, "audio": _audio_plan}  # a modality's render: what it grows and how it is shown


def judge_list(judge: JudgesInput) -> list[str | LoadedModel]:
    """Judges as a list: one spec, a comma-separated string of specs, a loaded model, or a list of these."""
    items = [judge] if isinstance(judge, (str, LoadedModel)) else list(judge)
    found: list[str | LoadedModel] = []
    for item in items:
        if isinstance(item, str):
            found.extend(spec.strip() for spec in item.split(",") if spec.strip())
        else:
            found.append(item)
    return found


def _image_targets(expressions: list[UnitExpression], settings: RenderSettings) -> list[UnitExpression]:
    """The unit expression of every image: `batch` copies per unit, or interpolation frames A→B."""
    if settings.interpolate:
        first, second = expressions
        weights = np.linspace(0.0, 1.0, settings.batch)
        return [first * float(1 - t) + second * float(t) for t in weights]
    return [e for e in expressions for _ in range(settings.batch)]
