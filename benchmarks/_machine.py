"""What the machine itself can do in parallel, measured the way the benchmarks use it, so scaling figures can be read.

`parallel_capacity()`: the same one-thread torch loop (a 512×512 matrix product) in one process, then in two at
once; the two processes' summed rate over the single one's. 2.0 means two real cores; a figure near 1.0 means
the two "cores" share one (hyperthreads, or a busy host), and no two workers can run twice as fast as one.
"""

from __future__ import annotations

import multiprocessing
import time

SECONDS = 4.0


def calls_per_second(work, seconds: float) -> float:
    """Calls of `work()` per second over `seconds` (after one warm-up call)."""
    work()
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        work()
        count += 1
    return count / (time.perf_counter() - start)


def _loop_rate(seconds: float, results) -> None:
    import torch

    torch.set_num_threads(1)
    x = torch.randn(512, 512)
    results.put(calls_per_second(lambda: x @ x, seconds))


def parallel_capacity(seconds: float = SECONDS) -> tuple[float, float]:
    """(one process's rate, two processes' summed rate / one process's rate)."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    alone = context.Process(target=_loop_rate, args=(seconds, results))
    alone.start()
    alone.join()
    solo = results.get()
    pair = [context.Process(target=_loop_rate, args=(seconds, results)) for _ in range(2)]
    for process in pair:
        process.start()
    for process in pair:
        process.join()
    return solo, (results.get() + results.get()) / solo
