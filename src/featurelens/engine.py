"""Where a job runs: "local" (this process) or "ray" (tasks on a Ray cluster, `featurelens.distributed`).

This module only checks the choice; it never imports Ray, so the core works without it. The Ray
code lives in `featurelens.distributed` and is imported only when a job runs with engine "ray".
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

from featurelens.errors import FeaturelensError, bad_parameter, require_positive

ENGINES = ("local", "ray")
RAY_INSTALL = "pip install 'featurelens[ray]'"


@dataclass(frozen=True)
class Engine:
    """A checked engine choice. With "ray": `address` None starts a local Ray instance with this machine's cores,
    otherwise the job joins that cluster; `workers` caps the tasks running at once (None: every CPU, or GPU,
    of the cluster); `device` is what the user asked for (None: workers take a GPU when the cluster has GPUs)."""

    name: str = "local"
    address: str | None = None
    workers: int | None = None
    device: str | None = None

    @property
    def is_ray(self) -> bool:
        return self.name == "ray"

    def describe(self) -> str:
        """' on Ray (…)' for a sentence that says what a plan will do; '' for the local engine."""
        if not self.is_ray:
            return ""
        where = f"the Ray cluster at {self.address}" if self.address else "a local Ray instance"
        return f" on {where}" + (f" with {self.workers} worker(s)" if self.workers else "")


def check_engine(name: str, address: str | None = None, workers: int | None = None, device=None) -> Engine:
    """The `Engine` for a job's `engine`, `address` and `workers` keywords; "ray" needs Ray installed."""
    if name not in ENGINES:
        raise FeaturelensError(f"unknown {{parameter}} {name!r}: use {' or '.join(ENGINES)}", parameter="engine")
    if name == "local":
        if address is not None:
            raise bad_parameter("address", "is a Ray cluster's address: it goes with the ray engine")
        return Engine(workers=workers)
    if workers is not None:
        require_positive("workers", workers)
    if not ray_installed():
        raise FeaturelensError(f"{{parameter}} ray needs Ray, an optional extra: {RAY_INSTALL}", parameter="engine")
    return Engine("ray", address or None, workers, str(device) if device is not None else None)


def ray_installed() -> bool:
    """Whether `import ray` can work, without paying for the import."""
    try:
        return importlib.util.find_spec("ray") is not None
    except ValueError:  # sys.modules["ray"] is None: the import is blocked
        return False
