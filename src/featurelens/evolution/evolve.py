"""`evolve`: how units change as a network learns — the same units rendered with the same seed, and ranked
on the same data, at every checkpoint of its training.

Per unit and checkpoint it records the unit's activation on its own render and its top-k dataset
examples; the overlap of top-k sets between consecutive checkpoints (and with the last one) says
when a unit settles on what it detects.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import torch

from featurelens.capture import LOGIT
from featurelens.dataset_examples import ExamplesResult, collect_examples
from featurelens.dataset_examples.run import plan_pass
from featurelens.errors import require_positive
from featurelens.evolution.checkpoints import Checkpoint, CheckpointsInput, checkpoint_files, model_at, read_checkpoint
from featurelens.evolution.result import EvolvedCell, EvolveResult, UnitTimeline
from featurelens.models import LoadedModel, model_for
from featurelens.progress import ProgressArg, reporting, shown_by_default
from featurelens.quick import shrink
from featurelens.rendering import AUTO, RenderResult, RenderSettings, plan_render
from featurelens.units import UnitExpression, UnitsInput


@dataclass(frozen=True)
class EvolveSettings:
    """Knobs of an evolution: which checkpoints (None: the model's own), how each is rendered, how examples rank.
    `reduce` "mean" ranks inputs by the channel's spatial mean, the value a channel unit renders for."""

    checkpoints: CheckpointsInput = None
    steps: int = 256
    size: int | str = AUTO
    param: str = "fft"
    seed: int = 0
    k: int = 9
    reduce: str = "mean"
    limit: int | None = None
    batch_size: int = 64

    def render_settings(self) -> RenderSettings:
        # each checkpoint is other weights: held against the photos it tracks anyway, and shown as optimised (no retries)
        return RenderSettings(size=self.size, steps=self.steps, param=self.param, seed=self.seed, data="photos", retry=False)


@dataclass
class EvolvePlan:
    """A checked evolution: the model, its checkpoints, the unit expressions, which of them rank examples, the data."""

    model: LoadedModel
    checkpoints: list[Checkpoint]
    targets: list[UnitExpression]
    ranked: list[tuple[str, int] | None]  # (layer, channel) of each unit that ranks dataset examples
    data: Any
    data_name: str
    entries: int
    settings: EvolveSettings

    @property
    def layers(self) -> list[str]:
        return list(dict.fromkeys(r[0] for r in self.ranked if r is not None))

    def describe(self) -> str:
        s = self.settings
        units = ", ".join(str(t) for t in self.targets)
        return (f"follow {len(self.targets)} unit(s) of {self.model.spec} across {len(self.checkpoints)} checkpoints "
                f"({self.checkpoints[0].label} … {self.checkpoints[-1].label}) on {self.model.device}: {units}; "
                f"{s.steps} steps, seed {s.seed}; top {s.k} of {self.entries} entries of {self.data_name}")

    def run(self, progress: ProgressArg = None) -> EvolveResult:
        """Render and rank at each checkpoint in turn; Ctrl-C keeps the checkpoints finished."""
        s = self.settings
        started = time.perf_counter()
        result = EvolveResult(self.model.spec, self.data_name, s.k, units=[UnitTimeline(str(t)) for t in self.targets])
        per_checkpoint = len(self.targets) * s.steps + (self.entries if self.layers else 0)
        total = per_checkpoint * len(self.checkpoints)
        with reporting(progress, f"evolution over {len(self.checkpoints)} checkpoints") as report:
            try:
                for i, checkpoint in enumerate(self.checkpoints):
                    offset = i * per_checkpoint
                    column = self._checkpoint_column(checkpoint, lambda done, _, at=offset: report.update(at + done, total))
                    if column is None:
                        result.interrupted = True
                        break
                    result.checkpoints.append(checkpoint)
                    for timeline, cell in zip(result.units, column):
                        timeline.cells.append(cell)
            except KeyboardInterrupt:
                result.interrupted = True
        _overlaps(result.units, s.k)
        result.seconds = time.perf_counter() - started
        return result

    def _checkpoint_column(self, checkpoint: Checkpoint, tick) -> list[EvolvedCell] | None:
        """Every unit's cell at one checkpoint; None when interrupted."""
        s = self.settings
        model = model_at(self.model, checkpoint)
        rendered = plan_render(model, self.targets, s.render_settings()).run(tick)
        if rendered.interrupted:
            return None
        found = None
        if self.layers:
            render_work = len(self.targets) * s.steps
            found = collect_examples(
                model, self.data, self.layers, s.k, s.reduce, s.batch_size, limit=s.limit,
                progress=lambda done, _: tick(render_work + done, None),
            )
            if found.interrupted:
                return None
        return [_cell(rendered, i, found, self.ranked[i]) for i in range(len(self.targets))]


def _cell(rendered: RenderResult, index: int, found: ExamplesResult | None, ranked: tuple[str, int] | None) -> EvolvedCell:
    unit = rendered.units[index]
    cell = EvolvedCell(unit.image, unit.activation, unit.natural_max)
    if found is not None and ranked is not None:
        layer, channel = ranked
        indices = [int(i) for i in found.layer(layer).ranked["max"].indices[channel]]
        cell.examples = indices
        cell.example_images = torch.stack([torch.from_numpy(found.image(i)) for i in indices]).numpy()
    return cell


def _overlaps(timelines: list[UnitTimeline], k: int) -> None:
    """Fill each cell's top-k overlap with the previous checkpoint and with the last one."""
    for timeline in timelines:
        cells = [c for c in timeline.cells if c.examples is not None]
        if not cells:
            continue
        last = set(cells[-1].examples)
        for before, cell in zip([None, *cells[:-1]], cells):
            mine = set(cell.examples)
            cell.overlap_final = len(mine & last) / k
            cell.overlap_previous = len(mine & set(before.examples)) / k if before is not None else None


def ranked_channel(expression: UnitExpression) -> tuple[str, int] | None:
    """(layer, channel) for a unit that is one whole channel (or class logit): those rank dataset examples."""
    if len(expression.terms) != 1:
        return None
    weight, unit = expression.terms[0]
    if weight <= 0 or unit.channel is None or unit.position is not None or unit.direction is not None:
        return None
    return unit.layer, unit.channel


def plan_evolve(
    model: LoadedModel | str, data: Any, units: UnitsInput, settings: EvolveSettings | None = None,
    *, device: torch.device | str | None = None,
) -> EvolvePlan:
    """Check an evolution without running it: the checkpoints fit the model, the units, the data and the knobs."""
    s = shrink(settings or EvolveSettings())
    require_positive("steps", s.steps)
    loaded = model_for(model, device).require_images("evolve")
    checkpoints = [read_checkpoint(path, loaded) for path in checkpoint_files(s.checkpoints, loaded)]
    targets = plan_render(loaded, units, s.render_settings()).targets
    ranked = [ranked_channel(t) for t in targets]
    layers = list(dict.fromkeys(r[0] for r in ranked if r is not None))
    passplan = plan_pass(loaded, data, layers or [LOGIT], s.k, s.reduce, s.batch_size, limit=s.limit)
    passplan.source.close()
    return EvolvePlan(loaded, checkpoints, targets, ranked, data, passplan.source.name, passplan.entries, s)


def evolve(
    model: LoadedModel | str,
    data: Any,
    units: UnitsInput,
    *,
    checkpoints: CheckpointsInput = None,
    steps: int = EvolveSettings.steps,
    size: int | str = EvolveSettings.size,
    param: str = EvolveSettings.param,
    seed: int = EvolveSettings.seed,
    k: int = EvolveSettings.k,
    reduce: str = EvolveSettings.reduce,
    limit: int | None = None,
    batch_size: int = EvolveSettings.batch_size,
    device: torch.device | str | None = None,
    progress: ProgressArg = None,
) -> EvolveResult:
    """Follow `units` across training: at every checkpoint, render them (same settings, same seed) and rank
    `data` for them (top-k by `reduce`). `checkpoints`: state-dict files, a folder of them, or None for
    the checkpoints the model ships (fashion-cnn: initialisation, four points in epoch 1, each epoch end).
    `data` as in `examples`: a folder, "fashion-mnist:test", "photos" or an iterable of images.
    Ctrl-C returns the checkpoints finished.
    """
    settings = EvolveSettings(checkpoints, steps, size, param, seed, k, reduce, limit, batch_size)
    return plan_evolve(model, data, units, settings, device=device).run(shown_by_default(progress))
