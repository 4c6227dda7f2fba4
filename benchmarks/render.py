"""Benchmark `featurelens render` on the default model, in one run, on one thread by default.

--mode speed (default): for 16 channels of a mid block at 128 px,
  (a) featurelens time per unit against the raw forward+backward cost of the same batch, truncated
      at the target layer (what any implementation must pay), and
  (b) Lucent (torch-lucent, installed only for this benchmark) rendering the same channels one by
      one with its defaults (Fourier + decorrelated colour, standard transforms, Adam 0.05);
  and the activation each reaches on its final image (channel mean, untransformed).
--mode transfer: class visualizations of 8 ImageNet classes with each renderer's defaults (and
  featurelens at fixed sizes), judged by EfficientNet-Lite1 and Lite2: probability of the class,
  top-5 rate, seconds per unit; featurelens' rows are means over --seeds.
--mode quality: time to quality, for each of --groups (blocks 4, 8, 10, 15 and class logits, 16 units per
  command): the activation Lucent reaches in 512 steps on the first --lucent-units units (at its 128 px), and the
  fewest featurelens steps (the --ladder of whole commands, fixed costs included, size auto) that reach it, each
  image judged at the size its tool rendered it for; the seconds per unit of each, and a summary row per group.
--mode scale: whether images hold when shown at another size: for --units channels of each block of
  --scale-layers and four class logits, rendered with the defaults (size auto), the activation on the image
  at its own size, shown at 128 px and at 224 px, with the scales spanned to both sides (the default) and
  without (`RobustnessTransform(span_display=False)`); and Lucent's images of the first --lucent-units units
  of each group (128 px, --lucent-steps steps), measured the same way.

Without Lucent, its rows are skipped (one line says so); --mode quality then has nothing to compare with.

Usage (see RESULTS.md for the install line of the peer):
  PYTHONPATH=/tmp/bench-lib:benchmarks python benchmarks/render.py [--mode speed|transfer|quality|scale] [--steps 512] [--lucent-units 4] [--threads 1] [--smoke]
  PYTHONPATH=/tmp/bench-lib:benchmarks python benchmarks/render.py --mode quality [--groups _blocks.10,logit] [--ladder 32 48 64] [--lucent-cache DIR]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
from pathlib import Path

import numpy as np
import torch

import featurelens as fl
from _smoke import missing_peer, parse_args
from featurelens.capture import ActivationCapture
from featurelens.images import resize_square
from featurelens.rendering import judge_images
from featurelens.rendering.transforms import RobustnessTransform
from featurelens.units import expression_value, parse_units

CLASSES = ("Egyptian cat", "espresso", "goldfish", "flamingo", "balloon", "strawberry", "volcano", "monarch")
JUDGES = ("efficientnet-lite1", "efficientnet-lite2")
QUALITY_LADDER = (16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512)
LUCENT_INSTALL = "see benchmarks/RESULTS.md for its install line"


def raw_cost_per_step(model, units, size, steps, channels_last: bool) -> float:
    """Seconds per step of forward (stopped at the layer) + backward for the batch the network sees."""
    seen = RobustnessTransform().output_size(size)
    expressions = [parse_units(u) for u in units]
    if channels_last:
        model.module.to(memory_format=torch.channels_last)
    else:
        model.module.to(memory_format=torch.contiguous_format)
    x = torch.rand(len(units), 3, seen, seen, requires_grad=True)
    if channels_last:
        x = x.detach().contiguous(memory_format=torch.channels_last).requires_grad_(True)
    layer = expressions[0].layers[0]
    with ActivationCapture(model.module, [layer]) as capture:
        for _ in range(3):  # warm-up
            _raw_step(model, capture, x, expressions)
        start = time.perf_counter()
        for _ in range(steps):
            _raw_step(model, capture, x, expressions)
    return (time.perf_counter() - start) / steps


def _raw_step(model, capture, x, expressions):
    acts = capture.run(model.normalize(x))
    total = sum(expression_value(e, {k: v[i:i + 1] for k, v in acts.items()}).sum() for i, e in enumerate(expressions))
    x.grad = None
    total.backward()


def channel_activation(model, image_uint8, unit, size: int | None = None) -> float:
    """The unit on an image (uint8 H×W×C) shown at its own size, or resized to `size`."""
    x = torch.from_numpy(np.asarray(image_uint8, dtype=np.float32) / 255).permute(2, 0, 1)[None]
    if size is not None:
        x = resize_square(x, size)
    expression = parse_units(unit)
    with torch.no_grad(), ActivationCapture(model.module, expression.layers) as capture:
        return float(expression_value(expression, capture.run(model.normalize(x)))[0])


def lucent_render(model, unit, size, steps):
    """Lucent's `render_vis` with its defaults on one unit (a channel LAYER:C or a class logit:N); (uint8 image, seconds)."""
    from _peer_shims import install_lucent_stubs

    install_lucent_stubs()
    from lucent.optvis import param, render

    class Normalized(torch.nn.Module):
        def __init__(self):
            super().__init__()
            # Lucent hooks every module of the model it is given and never removes the hooks: a copy of its own keeps
            # them off the model featurelens renders with (hooks there also stop featurelens folding its BatchNorms).
            self.net = copy.deepcopy(model.module)

        def forward(self, x):
            return self.net(model.normalize(x))

    layer, channel = unit.split(":")
    lucent_name = "net__fc" if layer == "logit" else "net_" + layer.replace(".", "_")  # the logits are _fc's output
    network = Normalized().eval()
    torch.manual_seed(0)
    start = time.perf_counter()
    images = render.render_vis(
        network, f"{lucent_name}:{channel}", param_f=lambda: param.image(size),
        thresholds=(steps,), show_image=False, progress=False, preprocess=False,
    )
    seconds = time.perf_counter() - start
    return (images[-1][0] * 255).round().astype(np.uint8), seconds


def judged(model, images, units, judges) -> tuple[float, float, list[float]]:
    """Mean judged probability of each image's class over all judges, the share ranked in a judge's top 5, and per-image means."""
    found = judge_images(judges, model, images, [parse_units(u) for u in units])
    per_image = [[j.probability for j in figures.values()] for figures in found]
    top5 = [j.rank <= 5 for figures in found for j in figures.values()]
    return statistics.mean(p for row in per_image for p in row), statistics.mean(top5), [statistics.mean(row) for row in per_image]


def transfer(model, args) -> None:
    """Class visualizations of CLASSES with each renderer's defaults, judged by other models."""
    judges = [fl.load_model(spec) for spec in JUDGES]
    units = [f"logit:{model.class_index(name)}" for name in CLASSES[: args.classes]]
    print(f"threads={args.threads} model=efficientnet-lite0 classes={len(units)} steps={args.steps} seeds={' '.join(map(str, args.seeds))} "
          f"judges={','.join(JUDGES)}")
    rows = []
    sizes = (("featurelens defaults (size auto)", "auto"), ("featurelens --size 224", 224), ("featurelens --size 128", 128))
    for label, size in sizes[: args.transfer_sizes]:
        runs = []  # per seed: seconds per unit, probability, top-5, per class, side
        for seed in args.seeds:
            result = fl.render(model, units, size=size, steps=args.steps, seed=seed)
            images = [u.image for u in result.units]
            runs.append((result.seconds / len(units), *judged(model, images, units, judges), images[0].shape[0]))
        if len(runs) > 1:
            print(f"{label}, judged probability per seed ({' '.join(map(str, args.seeds))}): {' '.join(f'{r[1]:.3f}' for r in runs)}")
        per_class = [statistics.mean(r[3][i] for r in runs) for i in range(len(units))]
        rows.append((label, *(statistics.mean(r[i] for r in runs) for i in range(3)), per_class, runs[0][4]))
    if args.lucent_units and (missing := missing_peer("lucent", LUCENT_INSTALL)):
        print(missing)
    elif args.lucent_units:
        rendered = [lucent_render(model, unit, 128, args.steps) for unit in units]
        images = [image for image, _ in rendered]
        rows.append(("Lucent defaults (128 px, upsampled to 224)", statistics.mean(t for _, t in rendered), *judged(model, images, units, judges), 128))
    print("| renderer | image px | s/unit | judged probability | top-5 | per class |")
    print("|---|---|---|---|---|---|")
    for label, seconds, probability, top5, per_class, side in rows:
        print(f"| {label} | {side} | {seconds:.1f} | {probability:.2f} | {top5:.2f} | {' '.join(f'{p:.2f}' for p in per_class)} |")


def time_to_quality(model, args) -> None:
    """For each group of --groups: the activation Lucent reaches in --lucent-steps steps on its first units, and the
    fewest featurelens steps (a ladder of whole commands, fixed costs included) that reach it, each judged at the size
    its tool rendered it for; then one summary row per group."""
    if missing := missing_peer("lucent", LUCENT_INSTALL):
        print(f"{missing}: --mode quality measures against Lucent, nothing to do")
        return
    print(f"threads={args.threads} model=efficientnet-lite0 units per command={args.units} Lucent units per group={args.lucent_units}")
    summary = []
    for group in args.groups.split(","):
        units = group_units(model, group, args.units)
        compared = units[: args.lucent_units]
        lucent = [lucent_cached(model, unit, args) for unit in compared]
        lucent_seconds = statistics.mean(t for _, t in lucent)
        # Measured the same way for both: the unit on the final uint8 image, at its own size (and shown at 224).
        lucent_native = statistics.mean(channel_activation(model, image, u) for (image, _), u in zip(lucent, compared))
        lucent_224 = statistics.mean(channel_activation(model, image, u, 224) for (image, _), u in zip(lucent, compared))
        print(f"{group}: lucent {args.lucent_steps} steps: {lucent_seconds:.1f} s/unit, activation {lucent_native:.2f} "
              f"at its own 128 px, {lucent_224:.2f} shown at 224")
        print("| featurelens steps | size | s/unit | activation (own size) | shown at 224 | reaches Lucent's | Lucent s/unit ÷ featurelens s/unit |")
        print("|---|---|---|---|---|---|---|")
        row = None
        for steps in [s for s in args.ladder if s <= args.lucent_steps] or [args.lucent_steps]:
            result = fl.render(model, units, steps=steps, seed=0, progress=False)
            per_unit = result.seconds / len(units)
            images, size = [u.image for u in result.units[: len(compared)]], result.units[0].size
            native = statistics.mean(channel_activation(model, image, u) for image, u in zip(images, compared))
            shown = statistics.mean(channel_activation(model, image, u, 224) for image, u in zip(images, compared))
            reached = native >= lucent_native
            row = (steps, size, per_unit, native, reached, lucent_seconds / per_unit)
            print(f"| {steps} | {size} | {per_unit:.2f} | {native:.2f} | {shown:.2f} | {'yes' if reached else 'no'} | "
                  f"{lucent_seconds / per_unit:.1f}× |", flush=True)
            if reached:
                break
        summary.append((f"{units[0]}…{units[-1].split(':')[1]}", lucent_seconds, lucent_native, *row))
    print(f"| units ({args.units} per command) | Lucent s/unit | Lucent activation | featurelens steps | size | featurelens s/unit | "
          "featurelens activation | reaches | Lucent ÷ featurelens |")
    print("|---|---|---|---|---|---|---|---|---|")
    for label, lucent_seconds, lucent_native, steps, size, per_unit, native, reached, ratio in summary:
        print(f"| {label} | {lucent_seconds:.1f} | {lucent_native:.2f} | {steps} | {size} | {per_unit:.2f} | {native:.2f} | "
              f"{'yes' if reached else 'no'} | **{ratio:.1f}×** |")


def group_units(model, group: str, count: int) -> list[str]:
    """`count` units of a block (its first channels), or of "logit" (CLASSES, then further ImageNet classes)."""
    if group != "logit":
        return [f"{group}:{c}" for c in range(count)]
    named = [model.class_index(name) for name in CLASSES]
    return [f"logit:{c}" for c in (named + [c for c in range(0, 1000, 37) if c not in named])[:count]]


def lucent_cached(model, unit: str, args) -> tuple[np.ndarray, float]:
    """`lucent_render` at 128 px, read from --lucent-cache when that run was saved there (image and its seconds)."""
    if not args.lucent_cache:
        return lucent_render(model, unit, 128, args.lucent_steps)
    path = Path(args.lucent_cache) / f"{unit.replace(':', '-')}-128px-{args.lucent_steps}.npz"
    if path.exists():
        saved = np.load(path)
        return saved["image"], float(saved["seconds"])
    image, seconds = lucent_render(model, unit, 128, args.lucent_steps)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, image=image, seconds=seconds)
    return image, seconds


def scale(model, args) -> None:
    """Activation of default renders shown at 128 px and at the model's 224 px, scales spanned or not; Lucent's beside."""
    groups = [group_units(model, group, args.units) for group in [*args.scale_layers.split(","), "logit"]]
    print(f"threads={args.threads} model=efficientnet-lite0 steps={args.steps} units per group={args.units} seed=0")
    print("| units | renderer | size | activation | shown at 128 | shown at 224 | 128 ÷ 224 (median) |")
    print("|---|---|---|---|---|---|---|")
    differences = {}
    for units in groups:
        for spanned in (True, False):
            result = fl.render(model, units, steps=args.steps, seed=0, data=None, progress=False,
                               transforms=RobustnessTransform(span_display=spanned))
            rows = result.summary()["units"]
            at = {side: [row["activation_at"][side] for row in rows] for side in ("128", "224")}
            label = f"featurelens, scales {'spanned' if spanned else 'not spanned'}"
            _scale_row(units, label, rows[0]["size"], [r["activation"] for r in rows], at["128"], at["224"], differences)
    lucent_steps = f"Lucent, {args.lucent_steps} steps"
    if args.lucent_units and (missing := missing_peer("lucent", LUCENT_INSTALL)):
        print(missing)
    elif args.lucent_units:
        for units in groups:
            compared = units[: args.lucent_units]
            images = [lucent_render(model, unit, 128, args.lucent_steps)[0] for unit in compared]
            at128 = [channel_activation(model, image, unit) for image, unit in zip(images, compared)]
            at224 = [channel_activation(model, image, unit, 224) for image, unit in zip(images, compared)]
            _scale_row(compared, lucent_steps, 128, at128, at128, at224, differences)
    for label, found in differences.items():
        print(f"median difference between 128 px and 224 px, {label}: {100 * statistics.median(found):.0f} % "
              f"over {len(found)} units (target ≤ 20 %)")


def scale_difference(at128: float, at224: float) -> float:
    """How far apart a unit's activations shown at 128 px and at 224 px are: 1 - the smaller ÷ the larger."""
    return abs(1 - min(at128, at224) / max(at128, at224))


def _scale_row(units, label, size, activation, at128, at224, differences) -> None:
    """One table row of --mode scale; each unit's difference between 128 and 224 px is added to `differences[label]`."""
    ratios = [low / high for low, high in zip(at128, at224) if high > 0]
    differences.setdefault(label, []).extend(scale_difference(low, high) for low, high in zip(at128, at224) if high > 0)
    print(f"| {units[0]}…{units[-1].split(':')[1]} | {label} | {size} | {statistics.median(activation):.2f} | "
          f"{statistics.median(at128):.2f} | {statistics.median(at224):.2f} | {statistics.median(ratios):.2f} |", flush=True)


SMOKE = {"groups": "_blocks.10,logit", "ladder": [3], "scale_layers": "_blocks.10", "units": 2, "size": 64, "steps": 3, "raw_steps": 2, "lucent_units": 1, "classes": 1, "transfer_sizes": 1, "lucent_steps": 16}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layer", default="_blocks.8")
    parser.add_argument("--units", type=int, default=16)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=512)
    parser.add_argument("--raw-steps", type=int, default=128, help="steps timed for the raw cost (per-step figure)")
    parser.add_argument("--lucent-units", type=int, default=4, help="how many of the units Lucent renders (0 to skip)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--mode", choices=("speed", "transfer", "quality", "scale"), default="speed")
    parser.add_argument("--scale-layers", default="_blocks.4,_blocks.8,_blocks.10,_blocks.15", help="--mode scale: the blocks measured (with four logits)")
    parser.add_argument("--classes", type=int, default=len(CLASSES), help="--mode transfer: how many of the classes")
    parser.add_argument("--transfer-sizes", type=int, default=3, help="--mode transfer: how many featurelens rows (auto, 224, 128)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="--mode transfer: featurelens seeds, each row the mean over them (one image's figure moves ±0.1 between seeds)")
    parser.add_argument("--groups", default="_blocks.4,_blocks.8,_blocks.10,_blocks.15,logit", help="--mode quality: the blocks (and the logits) measured")
    parser.add_argument("--ladder", type=int, nargs="+", default=list(QUALITY_LADDER), help="--mode quality: featurelens step counts tried, each a whole command")
    parser.add_argument("--lucent-cache", default=None, help="--mode quality: a folder where Lucent's images (and seconds) are kept between runs")
    parser.add_argument("--lucent-steps", type=int, default=512, help="--mode quality and scale: Lucent's steps (the quality ladder stops there)")
    args = parse_args(parser, SMOKE)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = fl.load_model("efficientnet-lite0")
    if args.mode != "speed":
        {"transfer": transfer, "quality": time_to_quality, "scale": scale}[args.mode](model, args)
        return
    # Lucent below runs on the same module object; featurelens leaves it channels-last, which also speeds Lucent up.
    units = [f"{args.layer}:{c}" for c in range(args.units)]

    # Raw costs are timed before and after the render and averaged, so drift in machine load cancels out.
    raw_plain = raw_cost_per_step(model, units, args.size, args.raw_steps, channels_last=False)
    raw_fast = raw_cost_per_step(model, units, args.size, args.raw_steps, channels_last=True)
    ours = fl.render(model, units, size=args.size, steps=args.steps, seed=0)  # 128 px: what size auto picks for _blocks.8
    raw_fast = (raw_fast + raw_cost_per_step(model, units, args.size, args.raw_steps, channels_last=True)) / 2
    raw_plain = (raw_plain + raw_cost_per_step(model, units, args.size, args.raw_steps, channels_last=False)) / 2
    ours_per_unit = ours.seconds / len(units)
    raw_per_unit = raw_plain * args.steps / len(units)
    raw_fast_per_unit = raw_fast * args.steps / len(units)
    print(f"threads={args.threads} model=efficientnet-lite0 units={args.layer}:0..{args.units - 1} size={args.size} steps={args.steps}")
    print(f"featurelens: {ours.seconds:.1f}s total, {ours_per_unit:.2f}s/unit")
    print(f"raw fwd+bwd (truncated at {args.layer}, batch {len(units)}, default layout): {raw_per_unit:.2f}s/unit -> featurelens/raw = {ours_per_unit / raw_per_unit:.3f}x")
    print(f"raw fwd+bwd (same, channels-last layout as featurelens uses): {raw_fast_per_unit:.2f}s/unit -> featurelens/raw = {ours_per_unit / raw_fast_per_unit:.3f}x")
    ours_acts = [u.activation for u in ours.units]
    print(f"featurelens activation: median {statistics.median(ours_acts):.2f}, natural-photo max median {statistics.median(u.natural_max for u in ours.units):.2f}")

    if args.lucent_units and (missing := missing_peer("lucent", LUCENT_INSTALL)):
        print(missing)
    elif args.lucent_units:
        compared = units[: args.lucent_units]
        lucent_seconds, lucent_acts = [], []
        for unit in compared:
            image, seconds = lucent_render(model, unit, args.size, args.steps)
            lucent_seconds.append(seconds)
            lucent_acts.append(channel_activation(model, image, unit))
        lucent_per_unit = statistics.mean(lucent_seconds)
        print(f"lucent: {lucent_per_unit:.2f}s/unit over {len(compared)} units -> lucent/featurelens = {lucent_per_unit / ours_per_unit:.2f}x")
        for unit, mine, theirs in zip(compared, ours_acts, lucent_acts):
            print(f"  {unit}: featurelens {mine:.2f}  lucent {theirs:.2f}")
        print(f"activation (same units): featurelens mean {statistics.mean(ours_acts[: len(compared)]):.2f} vs lucent mean {statistics.mean(lucent_acts):.2f}")


if __name__ == "__main__":
    main()
