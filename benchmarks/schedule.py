"""Benchmark the render loop's optimisation schedule: activation in the same steps, before and after.

For four units of each group (`_blocks.4` and `_blocks.8`, rendered at 128 px; `_blocks.10`, `_blocks.15` and four
class logits, at 224 px: what size auto picks), rendered with the defaults at each of --steps, the median activation
of the final images shown at 128 px and at 224 px (the model's input), and the median difference between the two;
once with the schedule before (Adam betas 0.9/0.999 and the same step for every render) and once with the current one
(`rendering.loop.ROAMING_ADAM`: for images grown at roaming zooms). Both cost the same per step: the schedule changes
no pixel count.

Usage:
  PYTHONPATH=src:benchmarks python benchmarks/schedule.py [--steps 64 96] [--units 4] [--threads 1] [--smoke]
"""

from __future__ import annotations

import argparse
import statistics

import torch

import featurelens as fl
from _smoke import parse_args
from render import group_units, scale_difference
from featurelens.rendering import loop

GROUPS = ("_blocks.4", "_blocks.8", "_blocks.10", "_blocks.15", "logit")
SCHEDULES = {"before": {}, "now": dict(loop.ROAMING_ADAM)}


def shown_at(model, units: list[str], steps: int, size) -> tuple[int, list[float], list[float]]:
    """Size picked, and each unit's activation on its final image shown at 128 px and at 224 px."""
    rows = fl.render(model, units, steps=steps, size=size, seed=0, retry=False, progress=False).summary()["units"]
    return rows[0]["size"], [r["activation_at"]["128"] for r in rows], [r["activation_at"]["224"] for r in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--groups", default=",".join(GROUPS))
    parser.add_argument("--units", type=int, default=4)
    parser.add_argument("--steps", type=int, nargs="+", default=[64, 96])
    parser.add_argument("--size", default="auto", help="render size (auto: 128 px for blocks 4 and 8, 224 px for the rest)")
    parser.add_argument("--threads", type=int, default=1)
    args = parse_args(parser, SMOKE)
    torch.set_num_threads(args.threads)
    size = args.size if args.size == "auto" else int(args.size)
    model = fl.load_model("efficientnet-lite0")
    print(f"threads={args.threads} model=efficientnet-lite0 units per group={args.units} seed=0")
    print("| units | steps | schedule | size | shown at 128 | shown at 224 | 128 vs 224 difference |")
    print("|---|---|---|---|---|---|---|")
    differences = {name: [] for name in SCHEDULES}
    for group in args.groups.split(","):
        units = group_units(model, group, args.units)
        for steps in args.steps:
            for name, schedule in SCHEDULES.items():
                loop.ROAMING_ADAM = schedule
                side, at128, at224 = shown_at(model, units, steps, size)
                found = [scale_difference(a, b) for a, b in zip(at128, at224) if max(a, b) > 0]
                differences[name].extend(found)
                print(f"| {units[0]}…{units[-1].split(':')[1]} | {steps} | {name} | {side} | {statistics.median(at128):.2f} | "
                      f"{statistics.median(at224):.2f} | {f'{100 * statistics.median(found):.0f} %' if found else '—'} |", flush=True)
    for name, found in ((name, found) for name, found in differences.items() if found):
        print(f"median difference between 128 px and 224 px, schedule {name}: {100 * statistics.median(found):.0f} % "
              f"over {len(found)} renders (target ≤ 20 %)")


SMOKE = {"groups": "_blocks.4,logit", "units": 1, "steps": [3], "size": "64"}

if __name__ == "__main__":
    main()
