"""Benchmark `featurelens atlas`: the time to build an atlas, split into its phases, each against its raw cost, in one run.

The atlas: EfficientNet-Lite0 (real ImageNet weights), 4 blocks × the first 16 units, 256 steps at 128 px,
max + min + 4 diverse images per unit, examples from the bundled photos (`photos`: 17 images at 224 px),
top and bottom 9, deconvnet projections of the top ones. Phases and their raw costs:
  render       against raw forward (stopped at the layer) + backward of the same optimisation batches, per step
               × steps (timed on `--raw-steps` steps before and after the build and averaged), in PyTorch's
               default layout and in the channels-last layout featurelens uses;
  examples     the one pass over the data for the 4 layers, against the raw forward of the same images to the
               deepest layer (decoded in memory beforehand);
  projections  against the raw forward+backward of as many passes, batched the same (plain gradient of each unit);
  writing      pictures, unit records, manifest and pages: seconds, and the site's bytes and files.

Usage:
  PYTHONPATH=benchmarks python benchmarks/atlas.py [--threads 1] [--steps 256] [--units 16] [--raw-steps 6] [--layers 4] [--size N] [--smoke]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

import featurelens as fl
from featurelens.atlas.renders import images_per_unit, render_plan
from featurelens.data.sources import open_source
from featurelens.dataset_examples import collect_examples
from featurelens.rendering import RenderSettings

from _smoke import parse_args
from examples import raw_projection_seconds, raw_seconds
from render import raw_cost_per_step

LAYERS = ["_blocks.4", "_blocks.8", "_blocks.12", "_blocks.15"]
SMOKE = {"steps": 2, "units": 1, "raw_steps": 1, "layers": 2, "size": 64}


def render_batches(model, layers: list[str], units: int, settings: fl.AtlasSettings) -> list[tuple[str, list[str]]]:
    """(layer, unit expression of every image) of each optimisation batch the atlas runs."""
    chunk = max(1, settings.max_batch // images_per_unit(settings.diverse))
    render_settings = RenderSettings(size=settings.render_size(model), steps=settings.steps)
    batches = []
    for layer in layers:
        for start in range(0, units, chunk):
            channels = list(range(start, min(start + chunk, units)))
            plan = render_plan(model, layer, channels, True, render_settings, settings.diverse)
            batches.append((layer, [str(target) for target in plan.targets]))
    return batches


def raw_render_seconds(model, batches, size: int, steps: int, raw_steps: int, channels_last: bool) -> float:
    """Raw forward+backward seconds of every batch for `steps` steps, from `raw_steps` timed steps each."""
    return sum(raw_cost_per_step(model, images, size, raw_steps, channels_last) * steps for _, images in batches)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=256)
    parser.add_argument("--units", type=int, default=16)
    parser.add_argument("--raw-steps", type=int, default=6, help="steps timed per batch for the raw render cost")
    parser.add_argument("--layers", type=int, default=len(LAYERS), help=f"the first N of {', '.join(LAYERS)}")
    parser.add_argument("--size", type=int, default=None, help="render side in pixels (default: the atlas's own, 128 here)")
    args = parse_args(parser, SMOKE)
    torch.set_num_threads(args.threads)
    model = fl.load_model("efficientnet-lite0")
    layers = LAYERS[: args.layers]
    settings = fl.AtlasSettings(units=args.units, steps=args.steps, size=args.size)
    size = settings.render_size(model)
    batches = render_batches(model, layers, args.units, settings)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); efficientnet-lite0, {', '.join(layers)} × {args.units} units, "
          f"{args.steps} steps at {size} px, {images_per_unit(settings.diverse)} images a unit in {len(batches)} batches "
          f"({', '.join(str(len(images)) for _, images in batches[:2])} images), examples from photos", flush=True)

    # Raw render costs before and after the build, averaged, so drift in machine load hits both.
    raw_plain = raw_render_seconds(model, batches, size, args.steps, args.raw_steps, channels_last=False)
    raw_fast = raw_render_seconds(model, batches, size, args.steps, args.raw_steps, channels_last=True)
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        result = fl.atlas(model, "photos", layers, args.units, steps=args.steps, size=args.size, out=Path(tmp) / "atlas")
        wall = time.perf_counter() - started
        summary = result.summary()
    raw_plain = (raw_plain + raw_render_seconds(model, batches, size, args.steps, args.raw_steps, channels_last=False)) / 2
    raw_fast = (raw_fast + raw_render_seconds(model, batches, size, args.steps, args.raw_steps, channels_last=True)) / 2

    source = open_source("photos")
    images = torch.stack([source.image(i, 3, model.input_size) for i in range(len(source))])
    raw_forward = min(raw_seconds(model, images, layers[-1], 64) for _ in range(3))
    examples = collect_examples(model, "photos", layers, k=9)
    rows = [row for row in examples.examples({layer: range(args.units) for layer in layers}) if row.kind == "max"]
    raw_projections = raw_projection_seconds(model, examples, rows, 16)

    seconds = summary["seconds"]
    print(f"atlas: {wall:.1f} s wall ({seconds['total']:.1f} s in the job); built {summary['built']}", flush=True)
    print(f"  render       {seconds['render']:8.1f} s   raw fwd+bwd {raw_plain:8.1f} s default layout → {seconds['render'] / raw_plain:.2f}×; "
          f"{raw_fast:.1f} s channels-last → {seconds['render'] / raw_fast:.2f}×")
    print(f"  examples     {seconds['examples']:8.1f} s   raw forward of the {len(images)} photos to {layers[-1]} {raw_forward:.2f} s "
          f"→ {seconds['examples'] / raw_forward:.2f}×")
    print(f"  projections  {seconds['projections']:8.1f} s   raw fwd+bwd of {len(rows)} passes {raw_projections:.1f} s "
          f"→ {seconds['projections'] / raw_projections:.2f}×")
    print(f"  writing      {seconds['writing']:8.1f} s   site {summary['site_bytes'] / 2**20:.1f} MiB in {summary['site_files']} files")
    other = seconds["total"] - sum(seconds[phase] for phase in ("render", "examples", "projections", "writing"))
    print(f"  other        {other:8.1f} s   (model checks, receptive fields, opening the data)")


if __name__ == "__main__":
    main()
