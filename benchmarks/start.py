"""How long a `featurelens render` command takes to start optimising: the first command on a model, and the second.

Issue #17 asks that a second `render` on the same model starts optimising within 3 s: the natural-photo maxima and
the data's best are cached per weights, so what is left is Python's start-up, the imports, loading the model, the
plan and the first step. (`torch.optim`'s optimizers import `torch._dynamo` on their first step, 0.75–2 s, so the
render loop runs torch's Adam arithmetic itself: `featurelens/rendering/adam.py`; the `torch._dynamo` row shows what
that saves.) Each command runs as the user runs it, in
a fresh process (`featurelens render …`, here `python -c` calling the entry point), with its cache folder
(`FEATURELENS_CACHE_DIR`) fresh for the first command and kept for the second. The clock starts when the process is
launched and stops when the first Adam step has returned; the process then exits.

Rows also time the imports alone (`import featurelens.cli.app`, and `torch._dynamo` after torch), in fresh processes.

Usage:
  PYTHONPATH=src:benchmarks python benchmarks/start.py [--repeats 3] [--models efficientnet-lite0,fashion-cnn] [--smoke]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

from _smoke import parse_args

UNITS = {"efficientnet-lite0": "_blocks.10:0..15", "fashion-cnn": "conv3:0..15"}
SMOKE = {"repeats": 1, "models": "fashion-cnn"}

# Run in the child: the entry point with the render loop's Adam step wrapped to report the first step's end (time since launch) and
# leave. `started` is the parent's clock at launch, passed in the environment.
CHILD = """
import os, sys, time
started = float(os.environ["START_CLOCK"])
import featurelens.rendering.adam as adam
step = adam.Adam.step
def first_step(self):
    step(self)
    print(f"FIRST STEP {time.time() - started:.3f}", flush=True)
    os._exit(0)
adam.Adam.step = first_step
sys.argv = ["featurelens", *sys.argv[1:]]
from featurelens.cli.app import main
main()
"""


def seconds_to_first_step(model: str, cache: str, out: str) -> float:
    """Seconds from launching `featurelens render UNITS --model MODEL` to the end of its first optimizer step."""
    env = {**os.environ, "FEATURELENS_CACHE_DIR": cache, "START_CLOCK": repr(time.time())}
    done = subprocess.run([sys.executable, "-c", CHILD, "render", UNITS[model], "--model", model, "--out", out],
                          env=env, capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("FIRST STEP ")]
    if not lines:
        raise SystemExit(f"render on {model} never reached its first step:\n{done.stderr[-2000:]}")
    return float(lines[0].removeprefix("FIRST STEP "))


def seconds_to_import(code: str) -> float:
    """Seconds a fresh process takes to run `code` (the interpreter's own start-up included)."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs of each row; the median is reported")
    parser.add_argument("--models", default=",".join(UNITS), help=f"comma-separated, of {', '.join(UNITS)}")
    args = parse_args(parser, SMOKE)
    load = os.getloadavg()[0]
    print(f"load average {load:.2f}; {os.cpu_count()} CPUs; median of {args.repeats} run(s)")
    bare = statistics.median(seconds_to_import("import torch") for _ in range(args.repeats))
    cli = statistics.median(seconds_to_import("import featurelens.cli.app") for _ in range(args.repeats))
    dynamo = statistics.median(seconds_to_import("import torch, torch._dynamo") for _ in range(args.repeats))
    print(f"| python + import torch | {bare:.2f} s |")
    print(f"| python + import featurelens.cli.app | {cli:.2f} s |")
    print(f"| python + import torch, torch._dynamo | {dynamo:.2f} s |")
    for model in args.models.split(","):
        firsts, seconds = [], []
        for _ in range(args.repeats):
            with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as out:
                firsts.append(seconds_to_first_step(model, cache, out))
                seconds.append(seconds_to_first_step(model, cache, out))
        print(f"| {model} {UNITS[model]}: first command | {statistics.median(firsts):.2f} s |")
        print(f"| {model} {UNITS[model]}: second command (cached figures) | {statistics.median(seconds):.2f} s "
              f"(target ≤ 3 s) |")


if __name__ == "__main__":
    main()
