"""Background jobs of the server (renders, dataset examples), one at a time on their own thread.

The live view keeps serving while a job runs; a job reports progress, and a finished or failed job
stays listed so the page can show what happened. Asking again for a job that is queued or running
returns the same job instead of starting another.
"""

from __future__ import annotations

import itertools
import threading
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

from featurelens.errors import FeaturelensError

Work = Callable[[Callable[[int, int | None], None]], None]  # work(progress)


@dataclass
class Job:
    """One background job and how far it got."""

    id: int
    key: str  # what it builds; equal keys share one job while it is queued or running
    description: str
    state: str = "queued"  # queued | running | done | failed
    done: int = 0
    total: int | None = None
    error: str | None = None
    finished: threading.Event = field(default_factory=threading.Event, repr=False)

    def status(self) -> dict:
        return {"id": self.id, "key": self.key, "description": self.description, "state": self.state,
                "done": self.done, "total": self.total, "error": self.error}


class JobRunner:
    """A single worker thread running submitted jobs in order."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="featurelens-job")
        self._jobs: dict[int, Job] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def submit(self, key: str, description: str, work: Work) -> Job:
        with self._lock:
            for job in self._jobs.values():
                if job.key == key and job.state in ("queued", "running"):
                    return job
            job = Job(next(self._ids), key, description)
            self._jobs[job.id] = job
        self._pool.submit(self._run, job, work)
        return job

    def get(self, job_id: int) -> Job:
        if job_id not in self._jobs:
            raise FeaturelensError(f"no job {job_id}: it may belong to an earlier run of the server")
        return self._jobs[job_id]

    def active(self, prefix: str = "") -> list[Job]:
        """Queued and running jobs whose key starts with `prefix`, and the last failure of each key."""
        with self._lock:
            return [job for job in self._jobs.values() if job.key.startswith(prefix) and job.state != "done"]

    def _run(self, job: Job, work: Work) -> None:
        job.state = "running"

        def progress(done: int, total: int | None) -> None:
            job.done, job.total = done, total

        try:
            work(progress)
            job.state = "done"
        except FeaturelensError as err:
            job.state, job.error = "failed", str(err)
        except Exception as err:  # a job's bug must not take the server down; the page shows it
            job.state, job.error = "failed", f"{type(err).__name__}: {err}"
            traceback.print_exc()
        finally:
            job.finished.set()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
