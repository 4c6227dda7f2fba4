"""Joining (or starting) a Ray cluster, and what each worker task asks of it."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

from featurelens.engine import Engine
from featurelens.errors import FeaturelensError

MAX_RETRIES = 3  # a task whose worker dies (killed, out of memory, node lost) runs again, up to this many times


@dataclass(frozen=True)
class Cluster:
    """Where tasks go: how many run at once, and the device each worker runs on (one GPU or one CPU per task)."""

    workers: int
    device: str  # "cuda" when every task takes a GPU, else "cpu"

    def task_options(self, name: str) -> dict[str, Any]:
        """Ray options of one worker task: one CPU (one torch thread), a GPU when there are GPUs, retried when its worker dies."""
        return {"name": name, "num_cpus": 1, "num_gpus": 1 if self.device == "cuda" else 0, "max_retries": MAX_RETRIES}


def connect(engine: Engine) -> Cluster:
    """Join the cluster at `engine.address`, or start a local Ray instance with this machine's cores.

    A process already connected to Ray (the user called `ray.init`) keeps that connection.
    """
    import ray

    if not ray.is_initialized():
        options = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.WARNING}
        try:
            if engine.address:
                ray.init(address=engine.address, **options)
            else:
                ray.init(num_cpus=len(os.sched_getaffinity(0)), **options)
        except (ConnectionError, RuntimeError, ValueError) as err:
            where = f"the Ray cluster at {engine.address}" if engine.address else "a local Ray instance"
            raise FeaturelensError(f"could not connect to {where}: {_first_line(err)}; check {{parameter}} (e.g. ray://HEAD:10001 or auto)",
                                   parameter="address") from None
    resources = ray.cluster_resources()
    gpus = int(resources.get("GPU", 0)) if engine.device is None or engine.device.startswith("cuda") else 0
    if engine.device is not None and engine.device.startswith("cuda") and not gpus:
        raise FeaturelensError(f"{{parameter}} {engine.device} asked for, but the Ray cluster has no GPUs: use --device cpu", parameter="device")
    capacity = gpus or max(1, int(resources.get("CPU", 1)))
    return Cluster(engine.workers or capacity, "cuda" if gpus else "cpu")


def result_of(ref) -> Any:
    """A task's result; a user mistake raised on a worker comes back as that `FeaturelensError`."""
    import ray
    from ray.exceptions import RayTaskError, WorkerCrashedError

    try:
        return ray.get(ref)
    except RayTaskError as err:
        if isinstance(err.cause, FeaturelensError):
            raise err.cause from None
        raise
    except WorkerCrashedError as err:
        raise FeaturelensError(f"a Ray worker died {MAX_RETRIES + 1} times on the same work (out of memory?): {_first_line(err)}") from None


def _first_line(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return lines[0] if lines else type(err).__name__
