"""Benchmark `--engine ray` against the local engine, in one run: does Ray cost anything, and does it scale?

Two compute-bound workloads on the default model (EfficientNet-Lite0, real ImageNet weights):
  (a) examples: a folder of `--photos` 224 px crops of the bundled photos (JPEG and PNG, as
      benchmarks/examples.py makes them), layers _blocks.4,_blocks.10,_blocks.15, top/bottom 9, batch 32;
  (b) render: 32 channels of _blocks.8 at 128 px, `--steps` steps, in batches of 16 (`max_batch`).
Each runs on the local engine with one torch thread (and one thread decoding files), then on a local
Ray instance (2 CPUs, started once, its start-up time reported apart) with 1 and with 2 workers, each
worker one task with one torch thread. Runs alternate over `--repeats` rounds so load drift on a
shared machine hits all three; the best and the median round are reported. Before timing, one Ray
round warms the workers (process start, imports, model load), which a long job pays once.
For (a) also: the driver's merge time (`merge_range`) as a share of the Ray job's wall time. Every
Ray result is checked equal to the local one (table; image bytes).

First, the machine's own parallel capacity (benchmarks/_machine.py): two workers cannot run faster than
two one-thread processes of plain matrix products do together.

Usage:
  PYTHONPATH=benchmarks python benchmarks/ray_scaling.py [--photos 384] [--repeats 3] [--steps 32] [--units 32] [--size 128]
      [--max-batch 16] [--only examples|render] [--smoke]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _smoke import SECONDS as SMOKE_SECONDS, parse_args  # noqa: E402
from examples import photo_folder  # noqa: E402  (the same 224 px crops as the examples benchmark)

import featurelens.dataset_examples.on_ray as examples_on_ray  # noqa: E402
from featurelens import load_model  # noqa: E402
from featurelens.dataset_examples import ExamplesSettings, plan_examples  # noqa: E402
from featurelens.rendering import RenderSettings, plan_render  # noqa: E402

LAYERS = ["_blocks.4", "_blocks.10", "_blocks.15"]
RENDERED_LAYER = "_blocks.8"


class MergeClock:
    """Seconds the driver spends merging shard rankings (wraps `merge_range` where the Ray stream calls it)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.inner = examples_on_ray.merge_range
        examples_on_ray.merge_range = self

    def __call__(self, *args):
        started = time.perf_counter()
        try:
            return self.inner(*args)
        finally:
            self.seconds += time.perf_counter() - started


def table(result) -> list[tuple]:
    return [(e.layer, e.channel, e.kind, e.rank, e.score, e.item, e.y, e.x) for e in result.examples()]


def report(name: str, unit: str, amount: int, times: dict[str, list[float]]) -> None:
    best = {engine: amount / min(seconds) for engine, seconds in times.items()}
    median = {engine: amount / statistics.median(seconds) for engine, seconds in times.items()}
    for engine in times:
        rounds = ", ".join(f"{amount / s:.2f}" for s in times[engine])
        print(f"{name} {engine}: best {best[engine]:.2f} {unit}/s, median {median[engine]:.2f} (rounds {rounds})", flush=True)
    for label, figures in (("best", best), ("median", median)):
        print(f"{name} {label}: 1 worker / local = {figures['ray-1'] / figures['local']:.3f} (target >= 0.85); "
              f"2 workers / 1 worker = {figures['ray-2'] / figures['ray-1']:.3f} (target >= 1.7)", flush=True)


def examples_rounds(model, folder: Path, count: int, repeats: int) -> None:
    def plan(engine: str, workers: int | None):
        return plan_examples(model, folder, LAYERS, ExamplesSettings(k=9, batch_size=32, engine=engine, workers=workers))

    local_plan = plan("local", 1)  # one thread decoding files, as each Ray worker has
    reference = table(local_plan.run())
    started = time.perf_counter()
    warm = plan("ray", 2).run()
    print(f"examples: warm-up Ray round (workers start, import, load the model) {time.perf_counter() - started:.1f} s", flush=True)
    assert table(warm) == reference, "the Ray table differs from the local one"
    clock = MergeClock()
    times: dict[str, list[float]] = {"local": [], "ray-1": [], "ray-2": []}
    merge_share = []
    for _ in range(repeats):
        for engine, workers in (("local", 1), ("ray-1", 1), ("ray-2", 2)):
            job = local_plan if engine == "local" else plan("ray", workers)
            clock.seconds = 0.0
            started = time.perf_counter()
            result = job.run()
            times[engine].append(time.perf_counter() - started)
            assert table(result) == reference, f"{engine}: the table differs from the local one"
            if engine != "local":
                merge_share.append(clock.seconds / times[engine][-1])
    report(f"examples ({count} photos at 224 px, {', '.join(LAYERS)})", "images", count, times)
    print(f"examples: merge on the driver = {100 * max(merge_share):.2f} % of the Ray job's wall time at most "
          f"(median {100 * statistics.median(merge_share):.2f} %)", flush=True)


def render_rounds(model, steps: int, repeats: int, units: int, size: int, max_batch: int) -> None:
    def plan(engine: str, workers: int | None):
        settings = RenderSettings(size=size, steps=steps, max_batch=max_batch, seed=0, engine=engine, workers=workers)
        return plan_render(model, f"{RENDERED_LAYER}:0..{units - 1}", settings)

    reference = plan("local", None).run().images
    started = time.perf_counter()
    warm = plan("ray", 2).run()
    print(f"render: warm-up Ray round {time.perf_counter() - started:.1f} s", flush=True)
    assert np.array_equal(warm.images, reference), "the Ray images differ from the local ones"
    times: dict[str, list[float]] = {"local": [], "ray-1": [], "ray-2": []}
    for _ in range(repeats):
        for engine, workers in (("local", None), ("ray-1", 1), ("ray-2", 2)):
            job = plan("local" if engine == "local" else "ray", workers)
            started = time.perf_counter()
            result = job.run()
            times[engine].append(time.perf_counter() - started)
            assert np.array_equal(result.images, reference), f"{engine}: the images differ from the local ones"
    report(f"render ({units} units of {RENDERED_LAYER}, {size} px, {steps} steps, batches of {max_batch})", "units", units, times)


SMOKE = {"photos": 8, "repeats": 1, "steps": 2, "units": 4, "size": 64, "max_batch": 2, "window": SMOKE_SECONDS}


def main() -> None:
    from _machine import SECONDS, parallel_capacity

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=384)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=32)
    parser.add_argument("--units", type=int, default=32, help=f"render: the first N channels of {RENDERED_LAYER}")
    parser.add_argument("--size", type=int, default=128, help="render: side in pixels")
    parser.add_argument("--max-batch", type=int, default=16, help="render: units in one optimisation batch")
    parser.add_argument("--window", type=float, default=SECONDS, help="seconds of each rate timed for the machine's capacity")
    parser.add_argument("--only", choices=["examples", "render"])
    args = parse_args(parser, SMOKE)
    torch.set_num_threads(1)
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    import ray

    _, capacity = parallel_capacity(args.window)
    print(f"machine: two one-thread processes together run {capacity:.2f}× one alone (2.00: two real cores; "
          f"2 workers cannot beat this)", flush=True)

    started = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    print(f"torch {torch.__version__}, ray {ray.__version__}, {os.cpu_count()} cores, 1 torch thread per engine/worker; "
          f"ray.init {time.perf_counter() - started:.1f} s", flush=True)
    model = load_model("efficientnet-lite0")
    if args.only != "render":
        with tempfile.TemporaryDirectory() as scratch:
            examples_rounds(model, photo_folder(Path(scratch), args.photos), args.photos, args.repeats)
    if args.only != "examples":
        render_rounds(model, args.steps, args.repeats, args.units, args.size, args.max_batch)
    ray.shutdown()


if __name__ == "__main__":
    main()
