"""Many calls of one function on Ray workers, at most `workers` at once, results handed back in call order.

Workers report progress to a small actor (`ProgressBoard`) as they go, so the driver's bar moves
with the work of the whole cluster, not only when a task ends. A task whose worker dies is run
again by Ray (`Cluster.task_options`); calls are deterministic, so a rerun gives the same result.
Closing the iterator (Ctrl-C at the driver) cancels the calls still running.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

import torch

from featurelens.distributed.cluster import Cluster, result_of

POLL_SECONDS = 0.5  # how often the driver reads the board while waiting
REPORT_SECONDS = 0.5  # how often a worker writes to it


@dataclass(frozen=True)
class TaskEvent:
    """A call finished (`index`, `value`), or only progress (`index` None); `done` counts work units across the cluster."""

    index: int | None
    value: Any
    done: int


class ProgressBoard:
    """A Ray actor: the work units each running call of each job has done so far."""

    def __init__(self) -> None:
        self.done: dict[str, dict[int, int]] = {}

    def report(self, job: str, index: int, done: int) -> None:
        self.done.setdefault(job, {})[index] = done

    def read(self, job: str) -> dict[int, int]:
        return dict(self.done.get(job, {}))

    def forget(self, job: str) -> None:
        self.done.pop(job, None)


_BOARDS: dict[str, Any] = {}  # one board per Ray session: an actor's process starts once, not per job


def progress_board() -> Any:
    import ray

    session = ray.get_runtime_context().get_job_id()
    if session not in _BOARDS:
        _BOARDS.clear()
        _BOARDS[session] = ray.remote(num_cpus=0)(ProgressBoard).remote()
    return _BOARDS[session]


class BoardReporter:
    """On the worker: `reporter(done)` writes call `index`'s progress to the board, at most every REPORT_SECONDS."""

    def __init__(self, board: Any, job: str, index: int) -> None:
        self.board, self.job, self.index, self.last = board, job, index, 0.0

    def __call__(self, done: int) -> None:
        now = time.monotonic()
        if now - self.last >= REPORT_SECONDS:
            self.last = now
            self.board.report.remote(self.job, self.index, done)


def run_call(function: Callable, args: tuple, board: Any, job: str, index: int) -> Any:
    """What a worker runs: `function(*args, progress=…)` with one torch thread (the task's one CPU)."""
    torch.set_num_threads(1)
    return function(*args, progress=BoardReporter(board, job, index))


def ordered_tasks(function: Callable, calls: Sequence[Callable[[], tuple]], sizes: Sequence[int], cluster: Cluster) -> Iterator[TaskEvent]:
    """Run `function(*calls[i](), progress=…)` for every i on the cluster; yield each result in order of i, and progress.

    `calls[i]` makes the arguments only when call i is submitted (so data shipped to workers is read
    a few shards ahead, not all at once); `sizes[i]` is its work in units its `progress` counts.
    """
    import ray

    remote = ray.remote(run_call).options(**cluster.task_options(function.__name__))
    board, job = progress_board(), uuid.uuid4().hex
    reading = board.read.remote(job)
    partial: dict[int, int] = {}
    running: dict[Any, int] = {}
    finished: dict[int, Any] = {}
    submitted = yielded = finished_units = 0
    try:
        while yielded < len(calls):
            while submitted < len(calls) and len(running) < cluster.workers:
                running[remote.remote(function, calls[submitted](), board, job, submitted)] = submitted
                submitted += 1
            ready, _ = ray.wait(list(running), num_returns=1, timeout=POLL_SECONDS)
            for ref in ready:
                index = running.pop(ref)
                finished[index] = result_of(ref)
                finished_units += sizes[index]
            if ray.wait([reading], timeout=0)[0]:  # never wait for the board: progress may lag, work may not
                partial, reading = ray.get(reading), board.read.remote(job)
            done = finished_units + sum(min(partial.get(index, 0), sizes[index]) for index in running.values())
            if yielded not in finished:
                yield TaskEvent(None, None, done)
            while yielded in finished:
                yield TaskEvent(yielded, finished.pop(yielded), done)
                yielded += 1
    finally:
        for ref in running:
            ray.cancel(ref)
        board.forget.remote(job)
