"""Activation maximization: grow images from noise so each drives its unit expression up (or down).

Many units render together: image i of the batch belongs to unit i, and one optimisation runs
for all of them (`rendering.loop`). The forward pass stops at the deepest layer the units need.
With engine "ray" the batches run on Ray workers (`rendering.on_ray`), with the same images.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from featurelens.capture import probe
from featurelens.engine import Engine, check_engine
from featurelens.errors import FeaturelensError, bad_parameter, require_positive
from featurelens.models import LoadedModel, model_for
from featurelens.progress import ProgressArg, reporting
from featurelens.rendering.loop import optimise_batch
from featurelens.rendering.param import PARAMETERIZATIONS
from featurelens.rendering.regularizers import Regularizers
from featurelens.rendering.result import RenderResult
from featurelens.rendering.transforms import RobustnessTransform
from featurelens.units import UnitExpression, UnitsInput, as_expressions, resolve_expression


@dataclass(frozen=True)
class RenderSettings:
    """Knobs of one render. `batch` is images per unit; `max_batch` caps one optimisation's batch."""

    size: int = 128
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
    engine: str = "local"  # or "ray": batches rendered by Ray workers (featurelens.engine)
    address: str | None = None
    workers: int | None = None

    def check(self, model: LoadedModel, unit_count: int) -> None:
        require_positive("steps", self.steps)
        require_positive("batch", self.batch)
        require_positive("max_batch", self.max_batch)
        if self.size < model.min_size:
            raise bad_parameter("size", f"{self.size} is below the minimum input size {model.min_size} of model {model.spec!r}")
        if self.param not in PARAMETERIZATIONS:
            raise FeaturelensError(f"unknown {{parameter}} {self.param!r}: use one of {', '.join(PARAMETERIZATIONS)}", parameter="param")
        if self.lr is not None:
            require_positive("lr", self.lr)
        if self.interpolate and unit_count != 2:
            raise bad_parameter("interpolate", f"needs exactly two units, got {unit_count}")
        if self.interpolate and self.batch < 2:
            raise bad_parameter("interpolate", "needs batch of at least 2 (the number of frames)")


@dataclass
class RenderPlan:
    """A checked render: the model, each image's unit expression, the settings. `run()` does the work."""

    model: LoadedModel
    targets: list[UnitExpression]
    settings: RenderSettings
    engine: Engine = field(default_factory=Engine)
    model_spec: str | None = None  # the spec the model was given as (None: a LoadedModel), for Ray workers to load

    def describe(self) -> str:
        s = self.settings
        units = ", ".join(dict.fromkeys(str(t) for t in self.targets))
        where = f"{self.engine.describe()} in {len(self.batches())} batch(es)" if self.engine.is_ray else f" on {self.model.device}"
        return (f"render {len(self.targets)} image(s) of {self.model.spec}{where}: {units}; "
                f"{s.size} px, {s.steps} steps, param {s.param}, seed {s.seed}")

    def batches(self) -> list[tuple[int, list[UnitExpression]]]:
        """(offset, targets) of each optimisation: `max_batch` images at a time; batch i is seeded with `seed + offset`."""
        step = self.settings.max_batch
        return [(start, self.targets[start:start + step]) for start in range(0, len(self.targets), step)]

    def run(self, progress: ProgressArg = None) -> RenderResult:
        """Optimise every image (in batches of at most `max_batch`). Ctrl-C returns what is done so far."""
        if self.engine.is_ray:
            from featurelens.rendering.on_ray import render_on_ray  # Ray only when asked for

            return render_on_ray(self, progress)
        result = RenderResult()
        started = time.perf_counter()
        total = len(self.targets) * self.settings.steps
        with reporting(progress, f"rendering {len(self.targets)} image(s)") as report:
            for start, chunk in self.batches():
                done_before = start * self.settings.steps
                tick = lambda steps: report.update(done_before + steps * len(chunk), total)
                if optimise_batch(self.model, chunk, self.settings, start, tick, result):
                    result.interrupted = True
                    break
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
    """Check a render without running it: settings, units against the model at the render size."""
    settings = replace(settings or RenderSettings(), **overrides)
    engine = check_engine(settings.engine, settings.address, settings.workers, device)
    expressions = as_expressions(units)
    loaded = model_for(model, device)
    settings.check(loaded, len(expressions))
    found = probe(loaded, settings.size)
    resolved = [resolve_expression(e, loaded, found) for e in expressions]
    return RenderPlan(loaded, _image_targets(resolved, settings), settings, engine, model if isinstance(model, str) else None)


def render(
    model: LoadedModel | str,
    units: UnitsInput,
    *,
    size: int = RenderSettings.size,
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
    engine: str = RenderSettings.engine,
    address: str | None = None,
    workers: int | None = None,
    device: torch.device | str | None = None,
    progress: ProgressArg = None,
) -> RenderResult:
    """Render one image per unit (× `batch`), all optimised together.

    `model`: a spec or a `LoadedModel`; `units`: one address (`"_blocks.8:3"`, a range `"_blocks.8:0..7"`,
    `"logit:Egyptian cat"`, `"-A"` to minimize, `"A+B"`) or a list. `param`: "fft" (Lucid's Fourier basis),
    "pixel" or "maco"; `transforms` None turns transformation robustness off. Ctrl-C returns what is done
    so far (`interrupted` True). The same `seed` gives the same images on the same machine.
    `engine` "ray" renders the batches of `max_batch` images on Ray workers (`address`: the cluster to join,
    None starts a local instance; `workers`: at most this many at once), with the same images as "local".
    """
    settings = RenderSettings(size, steps, param, lr, batch, seed, diversity, interpolate, transforms, regularizers, decorrelate, max_batch,
                              engine, address, workers)
    return plan_render(model, units, settings, device=device).run(progress)


def _image_targets(expressions: list[UnitExpression], settings: RenderSettings) -> list[UnitExpression]:
    """The unit expression of every image: `batch` copies per unit, or interpolation frames A→B."""
    if settings.interpolate:
        first, second = expressions
        weights = np.linspace(0.0, 1.0, settings.batch)
        return [first * float(1 - t) + second * float(t) for t in weights]
    return [e for e in expressions for _ in range(settings.batch)]
