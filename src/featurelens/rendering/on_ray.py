"""Renders on Ray: the batches of one or more `RenderPlan`s spread over the workers, gathered in order.

Each batch is the local engine's batch (`RenderPlan.batches()`: `max_batch` images, seeded with
`seed + offset`), rendered by the same function (`rendering.optimize.render_batch`) on one worker with
one torch thread, so the same seed gives the same images as a local run with one thread. Ray only
helps when there are several batches: lower `max_batch` to spread few units over many workers.
Ctrl-C keeps, for each plan, the batches finished before the first unfinished one. Imported by
`RenderPlan.run` only when the engine is "ray"; a job rendering many plans (an atlas of many layers)
calls `render_plans_on_ray(plans, engine)` to keep every worker busy across plans.
"""

from __future__ import annotations

import time
from contextlib import closing
from typing import TYPE_CHECKING, Callable

from featurelens.distributed.cluster import connect
from featurelens.distributed.model_transfer import ModelRecipe, model_recipe, worker_model
from featurelens.distributed.ordered_tasks import ordered_tasks
from featurelens.engine import Engine
from featurelens.progress import ProgressArg, reporting
from featurelens.rendering.loop import render_batch
from featurelens.rendering.result import RenderResult
from featurelens.units import UnitExpression

if TYPE_CHECKING:
    from featurelens.rendering.optimize import RenderPlan, RenderSettings


def render_on_ray(plan: RenderPlan, progress: ProgressArg = None) -> RenderResult:
    """`plan.run()` on the Ray cluster of `plan.engine`."""
    return render_plans_on_ray([plan], plan.engine, progress)[0]


def render_plans_on_ray(plans: list[RenderPlan], engine: Engine, progress: ProgressArg = None) -> list[RenderResult]:
    """Every batch of every plan on the cluster at once (at most `engine.workers` running); one result per plan, as `plan.run()` gives it."""
    started = time.perf_counter()
    cluster = connect(engine)
    recipes: dict[int, ModelRecipe] = {}
    owners, calls, sizes = [], [], []
    for number, plan in enumerate(plans):
        if id(plan.model) not in recipes:  # one upload per model object
            recipes[id(plan.model)] = model_recipe(plan.model, plan.model_spec)
        for offset, targets in plan.batches():
            owners.append(number)
            calls.append(_call(recipes[id(plan.model)], targets, plan.settings, offset, cluster.device))
            sizes.append(len(targets) * plan.settings.steps)
    results = [RenderResult() for _ in plans]
    try:
        with reporting(progress, f"rendering {sum(len(p.targets) for p in plans)} image(s) on Ray") as report, \
                closing(ordered_tasks(render_batch_task, calls, sizes, cluster)) as events:
            for event in events:
                report.update(event.done, sum(sizes))
                if event.index is not None:
                    _gather(results[owners[event.index]], event.value)
    except KeyboardInterrupt:
        for result, plan in zip(results, plans):
            result.interrupted = len(result.units) < len(plan.targets)
    for result in results:
        result.seconds = time.perf_counter() - started
    return results


def _gather(result: RenderResult, batch: RenderResult) -> None:
    if result.interrupted:
        return  # an earlier batch of this plan stopped short: later ones would leave a gap
    result.units.extend(batch.units)
    result.steps = max(result.steps, batch.steps)
    result.interrupted = batch.interrupted


def _call(recipe: ModelRecipe, targets: list[UnitExpression], settings: RenderSettings, offset: int, device: str) -> Callable[[], tuple]:
    return lambda: (recipe, targets, settings, offset, device)


def render_batch_task(recipe: ModelRecipe, targets: list[UnitExpression], settings: RenderSettings, offset: int, device: str,
                      progress: Callable[[int], None] | None = None) -> RenderResult:
    """On a worker: one batch of a render, on the driver's model."""
    return render_batch(worker_model(recipe, device), targets, settings, offset, progress)
