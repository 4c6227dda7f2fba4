"""Renders on Ray: the chunks of one or more `RenderPlan`s spread over the workers, gathered in order.

Each chunk is the local engine's (`RenderPlan.chunks()`: at most `max_batch` images of one size, seeded
with `seed + offset`), rendered by the same function (`rendering.loop.render_chunk`) on one worker with
one torch thread, so the same seed gives the same images as a local run with one thread. Ray only
helps when there are several chunks: lower `max_batch` to spread few units over many workers. Judges
see the finished images on the driver. Ctrl-C keeps every chunk finished so far. Imported by
`RenderPlan.run` only when the engine is "ray"; a job rendering many plans (an atlas of many layers)
calls `render_plans_on_ray(plans, engine)` to keep every worker busy across plans.

It reads a plan through the Protocol below, so imports run one way, optimize → on_ray.
"""

from __future__ import annotations

import time
from contextlib import closing
from dataclasses import replace
from typing import TYPE_CHECKING, Callable, Protocol

from featurelens.distributed.cluster import connect
from featurelens.distributed.model_transfer import ModelRecipe, model_recipe, worker_model
from featurelens.distributed.ordered_tasks import ordered_tasks
from featurelens.engine import Engine
from featurelens.progress import ProgressArg, reporting
from featurelens.rendering.loop import RenderedChunk, render_chunk
from featurelens.rendering.result import RenderedUnit, RenderResult
from featurelens.rendering.sizes import SizeChoice
from featurelens.units import UnitExpression

if TYPE_CHECKING:
    from featurelens.models import LoadedModel
    from featurelens.rendering.settings import RenderSettings


class ChunkedRender(Protocol):
    """What the runner reads of a plan (a `rendering.optimize.RenderPlan`): its chunks, and how to start and finish its result."""

    model: LoadedModel
    model_spec: str | None
    targets: list[UnitExpression]
    sizes: list[SizeChoice]
    settings: RenderSettings
    engine: Engine

    def chunks(self) -> list[list[int]]: ...

    def empty_result(self) -> RenderResult: ...

    def finish(self, result: RenderResult, finished: dict[int, RenderedUnit], started: float) -> RenderResult: ...


def render_on_ray(plan: ChunkedRender, progress: ProgressArg = None) -> RenderResult:
    """`plan.run()` on the Ray cluster of `plan.engine`."""
    return render_plans_on_ray([plan], plan.engine, progress)[0]


def render_plans_on_ray(plans: list[ChunkedRender], engine: Engine, progress: ProgressArg = None) -> list[RenderResult]:
    """Every chunk of every plan on the cluster at once (at most `engine.workers` running); one result per plan, as `plan.run()` gives it."""
    started = time.perf_counter()
    cluster = connect(engine)
    recipes: dict[int, ModelRecipe] = {}
    owners, chunks, calls, sizes = [], [], [], []
    for number, plan in enumerate(plans):
        if id(plan.model) not in recipes:  # one upload per model object
            recipes[id(plan.model)] = model_recipe(plan.model, plan.model_spec)
        settings = replace(plan.settings, judge=())  # workers never judge: the driver does, once
        for chunk in plan.chunks():
            owners.append(number)
            chunks.append(chunk)
            calls.append(_call(recipes[id(plan.model)], [plan.targets[i] for i in chunk], [plan.sizes[i] for i in chunk],
                               settings, chunk[0], cluster.device))
            sizes.append(len(chunk) * plan.settings.steps)
    results = [plan.empty_result() for plan in plans]
    finished: list[dict[int, RenderedUnit]] = [{} for _ in plans]
    try:
        with reporting(progress, f"rendering {sum(len(p.targets) for p in plans)} image(s) on Ray") as report, \
                closing(ordered_tasks(render_chunk_task, calls, sizes, cluster)) as events:
            for event in events:
                report.update(event.done, sum(sizes))
                if event.index is not None:
                    owner = owners[event.index]
                    plans[owner].keep(results[owner], chunks[event.index], event.value, finished[owner])
    except KeyboardInterrupt:
        pass  # `finish` marks every plan with missing images as interrupted
    return [plan.finish(result, done, started) for plan, result, done in zip(plans, results, finished)]


def _call(recipe: ModelRecipe, targets: list[UnitExpression], choices: list[SizeChoice], settings: RenderSettings, offset: int,
          device: str) -> Callable[[], tuple]:
    return lambda: (recipe, targets, choices, settings, offset, device)


def render_chunk_task(recipe: ModelRecipe, targets: list[UnitExpression], choices: list[SizeChoice], settings: RenderSettings,
                      offset: int, device: str, progress: Callable[[int], None] | None = None) -> RenderedChunk:
    """On a worker: one chunk of a render, on the driver's model."""
    return render_chunk(worker_model(recipe, device), targets, choices, settings, offset, progress)
