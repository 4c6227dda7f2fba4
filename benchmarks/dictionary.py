"""Benchmark `featurelens dictionary` in one run: its activation pass against the raw forward, training throughput, and
peak memory against the size of the activations it streams.

  (a) activation pass: the first `--images` images of fashion-mnist:train through fashion-cnn up to `conv3`, as the
      training stream reads them (source → forward → rows of 128 → shuffle buffer → batches) against the raw forward of
      the same batches on images already decoded and normalised in memory, stopped at the same layer. Raw and stream
      alternate `--repeats` times (load on a shared machine hits both alike); their medians are compared (target:
      stream ≥ 0.9× raw). Each repeat streams afresh, so the first touch of the buffer's memory (a fixed cost per run)
      is counted: `--images 60000` is a whole pass of fashion-mnist:train, as training reads it.
  (b) training: positions/s of a `--steps`-step topk run (1 024 features, k 8, batches of 4 096 positions), the
      stream included.
  (c) memory: the peak of live tensor bytes during a shorter training run (a dispatch-mode meter), against the
      bytes of every activation of the data it read (what holding the activations would cost).

Usage:
  PYTHONPATH=benchmarks python benchmarks/dictionary.py [--threads N] [--images 60000] [--steps 200] [--repeats 3] [--limit N] [--smoke]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

from featurelens import load_model
from featurelens.data.sources import open_source
from featurelens.dictionary.api import DictionarySettings, plan_dictionary
from featurelens.dictionary.stream import RowStream
from featurelens.memory import LiveTensorBytes

from _raw import raw_seconds
from _smoke import parse_args

LAYER = "conv3"
BATCH = 256  # images per forward, as the stream reads them


def stream_seconds(model, source, images: int) -> tuple[float, int]:
    """(seconds, rows) of the training stream over the first `images` entries, nothing trained."""
    stream = RowStream(model, LAYER, source, 28, batch_rows=4096, capacity=262_144, images_per_forward=BATCH, seed=0, passes=1, limit=images)
    start = time.perf_counter()
    rows = sum(len(batch) for batch in stream)
    return time.perf_counter() - start, rows


def training(model, steps: int, limit: int | None, meter: LiveTensorBytes | None = None):
    settings = DictionarySettings(steps=steps, limit=limit, eval_limit=64, purity=False)
    plan = plan_dictionary(model, "fashion-mnist:train", LAYER, settings)
    if meter is None:
        return plan.run(progress=False)
    with meter:
        return plan.run(progress=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own choice)")
    parser.add_argument("--images", type=int, default=60_000, help="images streamed (default: a whole pass of fashion-mnist:train, as training reads it)")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--memory-steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--limit", type=int, default=None, help="train on only the first N images (default: all 60 000)")
    args = parse_args(parser, {"images": 512, "steps": 4, "memory_steps": 2, "repeats": 1, "limit": 256})
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), load average {os.getloadavg()[0]:.2f}", flush=True)
    model = load_model("fashion-cnn")
    source = open_source("fashion-mnist:train")
    images = next(source.batches(0, args.images, args.images, 1, 28)).images

    raws, streams, rows = [], [], 0
    for _ in range(args.repeats):
        raws.append(raw_seconds(model, images, LAYER, BATCH))
        seconds, rows = stream_seconds(model, source, args.images)
        streams.append(seconds)
    raw, streamed = statistics.median(raws), statistics.median(streams)
    print(f"activation pass, {args.images} images of fashion-mnist:train to {LAYER} ({rows} positions): "
          f"raw forward {args.images / raw:.0f} images/s, stream {args.images / streamed:.0f} images/s, ratio {raw / streamed:.2f} "
          f"(medians of {args.repeats} interleaved repeats; ratios {' '.join(f'{r / t:.2f}' for r, t in zip(raws, streams))})", flush=True)

    result = training(model, args.steps, args.limit)
    print(f"training topk 1024 features k=8: {result.steps} steps of 4096 positions in {result.seconds:.1f} s, "
          f"{result.rows_per_second:.0f} positions/s (stream included); FVE {result.metrics.fve:.3f}", flush=True)

    meter = LiveTensorBytes()
    small = training(model, args.memory_steps, args.limit, meter)
    buffer_bytes = DictionarySettings.buffer_rows * 128 * 4
    whole = 60_000 * 49 * 128 * 4
    print(f"memory: peak live tensors {meter.peak / 2**20:.1f} MiB during {small.steps} training steps (buffer bound "
          f"{buffer_bytes / 2**20:.1f} MiB); every activation of fashion-mnist:train at {LAYER}: {whole / 2**20:.1f} MiB, "
          f"{whole / meter.peak:.1f}x the peak", flush=True)

if __name__ == "__main__":
    main()
