"""Activation maximization: grow images from noise so each drives its unit expression up (or down).

Many units render together: image i of the batch belongs to unit i, and one optimisation runs
for all of them. The forward pass stops at the deepest layer the units need. Units rendered at
different sizes (`size="auto"`) run in separate batches; judges see the finished images at the end.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Sequence

import numpy as np
import torch

from featurelens.capture import probe
from featurelens.errors import FeaturelensError, bad_parameter, require_positive
from featurelens.images import to_pixels
from featurelens.models import LoadedModel, model_for
from featurelens.progress import ProgressArg, reporting
from featurelens.rendering.judging import judge_images
from featurelens.rendering.loop import optimise
from featurelens.rendering.measure import measure
from featurelens.rendering.param import PARAMETERIZATIONS, RESOLUTION_FREE
from featurelens.rendering.regularizers import Regularizers
from featurelens.rendering.result import RenderedUnit, RenderResult
from featurelens.rendering.sizes import AUTO, SizeChoice, check_size, choose_sizes
from featurelens.rendering.transforms import RobustnessTransform
from featurelens.units import PerImageTargets, UnitExpression, UnitsInput, as_expressions, resolve_expression

JudgesInput = Sequence[str | LoadedModel] | str | LoadedModel


@dataclass(frozen=True)
class RenderSettings:
    """Knobs of one render. `size` is pixels or "auto" (per unit: the model's input size for units that see the
    whole input, 128 px for the others); `batch` is images per unit; `max_batch` caps one optimisation's batch;
    `out_size` draws the final images of a resolution-free parameterization (cppn) at another size;
    `judge` names models that judge the finished images (`featurelens.rendering.judging`)."""

    size: int | str = AUTO
    steps: int = 512
    param: str = "fft"
    lr: float | None = None
    batch: int = 1
    seed: int = 0
    diversity: float = 0.0
    interpolate: bool = False
    transforms: RobustnessTransform | None = field(default_factory=RobustnessTransform)
    regularizers: Regularizers = field(default_factory=Regularizers)
    decorrelate: bool = True
    max_batch: int = 64
    out_size: int | None = None
    judge: tuple[str | LoadedModel, ...] = ()

    def check(self, model: LoadedModel, unit_count: int) -> None:
        require_positive("steps", self.steps)
        require_positive("batch", self.batch)
        require_positive("max_batch", self.max_batch)
        check_size(self.size, model)
        if self.param not in PARAMETERIZATIONS:
            raise FeaturelensError(f"unknown {{parameter}} {self.param!r}: use one of {', '.join(PARAMETERIZATIONS)}", parameter="param")
        if self.lr is not None:
            require_positive("lr", self.lr)
        if self.out_size is not None:
            require_positive("out_size", self.out_size)
            if self.param not in RESOLUTION_FREE:
                raise bad_parameter("out_size", f"needs a resolution-free parameterization ({', '.join(RESOLUTION_FREE)}), not {self.param!r}")
        if self.interpolate and unit_count != 2:
            raise bad_parameter("interpolate", f"needs exactly two units, got {unit_count}")
        if self.interpolate and self.batch < 2:
            raise bad_parameter("interpolate", "needs batch of at least 2 (the number of frames)")


@dataclass
class RenderPlan:
    """A checked render: the model, each image's unit expression and size, the settings, the judges. `run()` does the work."""

    model: LoadedModel
    targets: list[UnitExpression]
    settings: RenderSettings
    sizes: list[SizeChoice] = field(default_factory=list)  # one per target
    judges: list[LoadedModel] = field(default_factory=list)

    def describe(self) -> str:
        s = self.settings
        units = ", ".join(dict.fromkeys(str(t) for t in self.targets))
        sides = "/".join(str(side) for side in sorted({c.size for c in self.sizes}, reverse=True))
        resampled = sorted({c.param_side for c in self.sizes if c.param_side != c.size})
        size = f"{sides} px" + (f" (parameterized at {'/'.join(map(str, resampled))} px and resampled)" if resampled else "")
        size += " (auto)" if s.size == AUTO else ""
        judged = f"; judged by {', '.join(j.spec for j in self.judges)}" if self.judges else ""
        return (f"render {len(self.targets)} image(s) of {self.model.spec} on {self.model.device}: {units}; "
                f"{size}, {s.steps} steps, param {s.param}, seed {s.seed}{judged}")

    def run(self, progress: ProgressArg = None) -> RenderResult:
        """Optimise every image (one size at a time, in batches of at most `max_batch`), then judge them.
        Ctrl-C returns what is done so far."""
        result = RenderResult(size=self.settings.size, judges=[j.spec for j in self.judges], model=self.model.spec)
        started = time.perf_counter()
        steps = self.settings.steps
        total = len(self.targets) * steps
        finished: dict[int, RenderedUnit] = {}
        with reporting(progress, f"rendering {len(self.targets)} image(s)") as report:
            done = 0
            for chunk in self._chunks():
                before = done
                tick = lambda step, n=len(chunk): report.update(before + step * n, total)
                if self._render_chunk(chunk, tick, finished, result):
                    result.interrupted = True
                    break
                done += len(chunk) * steps
        order = sorted(finished)
        result.units = [finished[i] for i in order]
        if self.judges and result.units:
            judged = judge_images(self.judges, self.model, [u.image for u in result.units], [self.targets[i] for i in order])
            for unit, figures in zip(result.units, judged):
                unit.judged = figures
        result.seconds = time.perf_counter() - started
        return result

    def _chunks(self) -> list[list[int]]:
        """Image indices grouped by size (largest first), each group cut into batches of at most `max_batch`."""
        chunks = []
        for sides in sorted({(c.size, c.param_side) for c in self.sizes}, reverse=True):
            indices = [i for i, c in enumerate(self.sizes) if (c.size, c.param_side) == sides]
            chunks.extend(indices[start:start + self.settings.max_batch] for start in range(0, len(indices), self.settings.max_batch))
        return chunks

    def _render_chunk(self, chunk: list[int], tick, finished: dict[int, RenderedUnit], result: RenderResult) -> bool:
        """Optimise and measure one batch of images of one size; returns True if interrupted."""
        settings, model = self.settings, self.model
        choice = self.sizes[chunk[0]]
        seed = settings.seed + chunk[0]  # a call of one size seeds batch after batch as before sizes existed
        objective_of = PerImageTargets([self.targets[i] for i in chunk])
        generator = torch.Generator(device=model.device).manual_seed(seed)
        done = optimise(model, objective_of, settings, choice, seed, generator, tick)
        result.steps = max(result.steps, done.steps)
        with torch.no_grad():
            final = done.param()
            shown = done.param(settings.out_size) if settings.out_size else final
        figures = measure(model, objective_of, final, settings.transforms, generator)
        pixels = to_pixels(shown)
        for row, index in enumerate(chunk):
            reason = self.sizes[index].reason  # units of one batch share the sizes, not always the reason
            finished[index] = RenderedUnit(
                str(self.targets[index]), pixels[row], float(done.objective[row]), float(figures.activation[row]),
                float(figures.robust_activation[row]), figures.natural_max[row], choice.size, reason, choice.param_side,
            )
        return done.interrupted


def plan_render(
    model: LoadedModel | str,
    units: UnitsInput,
    settings: RenderSettings | None = None,
    *,
    device: torch.device | str | None = None,
    **overrides,
) -> RenderPlan:
    """Check a render without running it: settings, units against the model at each unit's render size, judges."""
    settings = replace(settings or RenderSettings(), **overrides)
    expressions = as_expressions(units)
    loaded = model_for(model, device)
    settings.check(loaded, len(expressions))
    first_size = loaded.input_size if settings.size == AUTO else settings.size
    resolved = [resolve_expression(e, loaded, probe(loaded, first_size)) for e in expressions]
    choices = choose_sizes(loaded, resolved, settings.size)
    if settings.interpolate:  # frames blend both units: one size for all
        choices = [max(choices, key=lambda c: c.size)] * len(choices)
    for expression, choice in zip(resolved, choices):
        if choice.size != first_size:  # positions and reachable layers depend on the size
            resolve_expression(expression, loaded, probe(loaded, choice.size))
    targets = _image_targets(resolved, settings)
    sizes = choices[:1] * len(targets) if settings.interpolate else [c for c in choices for _ in range(settings.batch)]
    judges = [model_for(judge, loaded.device) for judge in judge_list(settings.judge)]
    return RenderPlan(loaded, targets, settings, sizes, judges)


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
    """
    settings = RenderSettings(
        size, steps, param, lr, batch, seed, diversity, interpolate, transforms, regularizers, decorrelate, max_batch, out_size,
        tuple(judge_list(judge)),
    )
    return plan_render(model, units, settings, device=device).run(progress)


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
