"""Benchmark featurelens on vision transformers, each figure against the raw cost in the same run.

(a) render: seconds per optimisation step of `featurelens render` on --units channels of a block (token features
    read on the patch grid), against the raw forward (stopped at the block) + backward of the same batch, at the
    size the network sees; the fixed cost per command (start-up, checks, natural maxima) is timed apart and left
    out of the per-step figure (RESULTS.md `## render` counts it separately too).
(b) the same on a ViT at real size: timm's `vit_tiny_patch16_224` (random weights, so no download), --timm-units
    channels of --timm-layer at 224 px, --timm-steps steps (skipped, with a line saying so, if timm is missing).
(c) examples: images per second of `fl.examples` on the Fashion-MNIST test set (top-9 and bottom-9 of every
    feature of the block, peak token and its patch box) against the raw forward stopped at the block, batch 256.
(d) the live grid on fashion-vit: frames per second of the server's own work on a camera frame (JPEG decode, the
    grid's forward and maps, encoding; benchmarks/live.py's `server_rate`, no browser) against the bare forward
    to the block, batch 1 (live.py's `raw_forward_rate`), each over --window seconds.
Raw and featurelens alternate over --repeats rounds, best of each reported (the machine's load drifts).

Usage:
  PYTHONPATH=benchmarks python benchmarks/transformer.py [--layer blocks.2] [--units 16] [--steps 128] [--repeats 3]
      [--timm-layer blocks.6] [--timm-units 8] [--timm-steps 8] [--window 3] [--threads N] [--smoke]
"""

from __future__ import annotations

import argparse
import time

import torch

import featurelens as fl
from _smoke import SECONDS as SMOKE_SECONDS, missing_peer, parse_args
from live import raw_forward_rate as raw_frame_rate, server_rate
from featurelens.capture import ActivationCapture
from featurelens.data.fashion_mnist import load_fashion_mnist
from featurelens.units import PerImageTargets, parse_units

TIMM_MODEL = "timm:vit_tiny_patch16_224:random"
SMOKE = {"units": 2, "steps": 6, "repeats": 1, "images": 512, "timm_units": 1, "timm_steps": 2, "window": SMOKE_SECONDS}


def raw_step_seconds(model, layer: str, units: list[str], steps: int) -> float:
    """Seconds per forward (stopped at `layer`) + backward of the batch a render step feeds the network: a ViT takes
    its one input size, which render's transforms keep."""
    seen = model.input_size
    targets = PerImageTargets([parse_units(unit) for unit in units])
    x = torch.rand(len(units), model.in_channels, seen, seen, requires_grad=True)
    with ActivationCapture(model.module, [layer]) as capture:
        for number in range(steps + 2):  # two warm-up steps
            if number == 2:
                start = time.perf_counter()
            value = targets.values(capture.run(model.normalize(x))).sum()
            x.grad = None
            value.backward()
    return (time.perf_counter() - start) / steps


def render_step_seconds(model, units: list[str], steps: int) -> float:
    """Seconds per optimisation step of `fl.render`, read from its progress reports (one per step), so the fixed cost
    before the first step and after the last (checks, the data's best, robustness, judging) is left out."""
    reports: list[tuple[float, int]] = []
    fl.render(model, units, steps=steps, seed=0, retry=False, progress=lambda done, total: reports.append((time.perf_counter(), done)))
    (start, first), (end, last) = reports[0], reports[-1]
    return (end - start) * len(units) / max(1, last - first)  # progress counts unit-steps: steps × units


def raw_forward_rate(model, layer: str, images: torch.Tensor, batch: int) -> float:
    """Images per second of the forward stopped at `layer`, batch `batch`, no gradients."""
    with torch.no_grad(), ActivationCapture(model.module, [layer]) as capture:
        capture.run(model.normalize(images[:batch]))
        start = time.perf_counter()
        for first in range(0, len(images), batch):
            capture.run(model.normalize(images[first:first + batch]))
    return len(images) / (time.perf_counter() - start)


def step_row(name: str, raw: list[float], ours: list[float]) -> str:
    raw_step, ours_step = min(raw), min(ours)
    return f"| render step, {name} | {raw_step * 1000:.1f} ms | {ours_step * 1000:.1f} ms | {ours_step / raw_step:.2f}× (target ≤ 1.15×) |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layer", default="blocks.2")
    parser.add_argument("--units", type=int, default=16)
    parser.add_argument("--steps", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--images", type=int, default=10_000, help="Fashion-MNIST test images for the examples pass")
    parser.add_argument("--timm-layer", default="blocks.6")
    parser.add_argument("--timm-units", type=int, default=8)
    parser.add_argument("--timm-steps", type=int, default=8)
    parser.add_argument("--window", type=float, default=3.0, help="seconds each live-grid rate is timed over")
    parser.add_argument("--threads", type=int, default=None)
    args = parse_args(parser, SMOKE)
    if args.threads:
        torch.set_num_threads(args.threads)
    model = fl.load_model("fashion-vit")
    units = [f"{args.layer}:{c}" for c in range(args.units)]
    images = (load_fashion_mnist("test")[0][: args.images].float() / 255).unsqueeze(1)
    if skipped := missing_peer("timm", "pip install timm"):
        print(skipped)
        vit = None
    else:
        torch.manual_seed(0)  # the random weights
        vit = fl.load_model(TIMM_MODEL)
        vit_units = [f"{args.timm_layer}:{c}" for c in range(args.timm_units)]

    figures: dict[str, list[float]] = {}
    for _ in range(args.repeats):
        for name, value in [
            ("raw step", lambda: raw_step_seconds(model, args.layer, units, args.steps)),
            ("step", lambda: render_step_seconds(model, units, args.steps)),
            *([("timm raw step", lambda: raw_step_seconds(vit, args.timm_layer, vit_units, args.timm_steps)),
               ("timm step", lambda: render_step_seconds(vit, vit_units, args.timm_steps))] if vit else []),
            ("raw rate", lambda: raw_forward_rate(model, args.layer, images, 256)),
            ("rate", lambda: fl.examples(model, list(images), [args.layer], k=9, batch_size=256, progress=False).images_per_second),
            ("raw frames", lambda: raw_frame_rate(model, args.layer, args.window)),
            ("frames", lambda: server_rate(model, args.layer, args.window)),
        ]:
            figures.setdefault(name, []).append(value())
        print(f"round {len(figures['step'])}: " + ", ".join(f"{name} {values[-1]:.4g}" for name, values in figures.items()), flush=True)
    raw_rate, ours_rate = max(figures["raw rate"]), max(figures["rate"])
    raw_frames, frames = max(figures["raw frames"]), max(figures["frames"])
    print(f"fashion-vit, {args.layer} ({model.input_size} px), threads={torch.get_num_threads()}, best of {args.repeats}")
    print("| workload | raw | featurelens | ratio |")
    print("|---|---|---|---|")
    print(step_row(f"{args.units} units", figures["raw step"], figures["step"]))
    if vit:
        print(step_row(f"timm vit_tiny_patch16_224 {args.timm_layer}, {args.timm_units} units at {vit.input_size} px, "
                       f"{args.timm_steps} steps", figures["timm raw step"], figures["timm step"]))
    print(f"| examples, {len(images)} images | {raw_rate:.0f} images/s | {ours_rate:.0f} images/s | {ours_rate / raw_rate:.2f}× (target ≥ 0.9×) |")
    print(f"| live grid (server alone), {args.layer} | {raw_frames:.0f} fps | {frames:.0f} fps | {frames / raw_frames:.2f}× |")


if __name__ == "__main__":
    main()
