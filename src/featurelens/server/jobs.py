"""Background jobs of the server (renders, dataset examples), one at a time on a thread of their own, in a bounded queue.

The live view keeps serving while a job runs; a job reports progress, and a finished, failed or cancelled job
stays listed so the page can show what happened. Asking again for a job that is queued or running returns the
same job instead of starting another. At most `max_jobs` jobs are queued or running at once, and at most
`max_per_client` for one client address: past that `submit` raises `Busy` (the server answers 429). A queued job
is cancelled at once; a running one stops at its next progress report and keeps what it finished (the
techniques save their work on KeyboardInterrupt, which the progress report raises). `close` cancels everything.
"""

from __future__ import annotations

import itertools
import threading
import traceback
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

from featurelens.errors import FeaturelensError

Work = Callable[[Callable[[int, int | None], None]], None]  # work(progress)
ACTIVE = ("queued", "running")
KEPT_ENDED = 64  # ended jobs remembered for the page; older ones are forgotten first


class Busy(FeaturelensError):
    """The queue is full: the server answers 429 with this message."""


@dataclass
class Job:
    """One background job and how far it got."""

    id: int
    key: str  # what it builds; equal keys share one job while it is queued or running
    description: str
    client: str = ""
    state: str = "queued"  # queued | running | done | failed | cancelled
    done: int = 0
    total: int | None = None
    error: str | None = None
    finished: threading.Event = field(default_factory=threading.Event, repr=False)
    cancelling: threading.Event = field(default_factory=threading.Event, repr=False)

    def status(self) -> dict:
        return {"id": self.id, "key": self.key, "description": self.description, "state": self.state,
                "done": self.done, "total": self.total, "error": self.error}


class JobRunner:
    """A single worker thread running submitted jobs in order, from a queue of bounded length."""

    def __init__(self, max_jobs: int = 8, max_per_client: int = 4) -> None:
        if max_jobs < 1 or max_per_client < 1:
            raise FeaturelensError(f"the job bounds must be at least 1, got {max_jobs} and {max_per_client} per client")
        self.max_jobs, self.max_per_client = max_jobs, max_per_client
        self._jobs: dict[int, Job] = {}
        self._queue: deque[tuple[Job, Work]] = deque()
        self._ids = itertools.count(1)
        self._lock = threading.Condition()
        self._closed = False
        self._worker = threading.Thread(target=self._work, name="featurelens-job", daemon=True)
        self._worker.start()

    def submit(self, key: str, description: str, work: Work, client: str = "") -> Job:
        """Queue `work` (or return the queued or running job of the same key); `Busy` past the bounds."""
        with self._lock:
            for job in self._jobs.values():
                if job.key == key and job.state in ACTIVE:
                    return job
            if self._closed:
                raise Busy("the server is stopping: no new jobs")
            active = [job for job in self._jobs.values() if job.state in ACTIVE]
            if len(active) >= self.max_jobs:
                raise Busy(f"busy: {len(active)} jobs are queued or running, the most this server takes (--max-jobs): wait for one or cancel one")
            if sum(job.client == client for job in active) >= self.max_per_client:
                raise Busy(f"busy: this client has {self.max_per_client} jobs queued or running, the most one client may (--max-jobs-per-client): wait for one or cancel one")
            job = Job(next(self._ids), key, description, client)
            self._jobs[job.id] = job
            self._queue.append((job, work))
            self._forget_old()
            self._lock.notify()
        return job

    def get(self, job_id: int) -> Job:
        with self._lock:
            if job_id not in self._jobs:
                raise FeaturelensError(f"no job {job_id}: it may belong to an earlier run of the server")
            return self._jobs[job_id]

    def active(self, prefix: str = "") -> list[Job]:
        """Queued and running jobs whose key starts with `prefix`, and the last failure of each key."""
        with self._lock:
            return [job for job in self._jobs.values() if job.key.startswith(prefix) and job.state in (*ACTIVE, "failed")]

    def queued(self) -> int:
        """How many jobs wait (not counting the running one)."""
        with self._lock:
            return len(self._queue)

    def cancel(self, job_id: int) -> Job:
        """Cancel a job: a queued one never runs; a running one stops at its next progress report."""
        job = self.get(job_id)
        with self._lock:
            if job.state == "queued":
                self._queue = deque(item for item in self._queue if item[0] is not job)
                job.state = "cancelled"
                job.finished.set()
            elif job.state == "running":
                job.cancelling.set()
        return job

    def close(self, timeout: float = 5.0) -> None:
        """Cancel every job and wait up to `timeout` seconds for the running one to stop (it keeps what it finished)."""
        with self._lock:
            self._closed = True
            for job, _ in self._queue:
                job.state = "cancelled"
                job.finished.set()
            self._queue.clear()
            for job in self._jobs.values():
                if job.state == "running":
                    job.cancelling.set()
            self._lock.notify_all()
        self._worker.join(timeout)

    def _work(self) -> None:
        while True:
            with self._lock:
                self._lock.wait_for(lambda: self._queue or self._closed)
                if not self._queue:
                    return
                job, work = self._queue.popleft()
                job.state = "running"
            self._run(job, work)

    def _run(self, job: Job, work: Work) -> None:
        def progress(done: int, total: int | None) -> None:
            job.done, job.total = done, total
            if job.cancelling.is_set():
                raise KeyboardInterrupt  # as Ctrl-C: the technique saves what it finished and stops

        try:
            if job.cancelling.is_set():
                raise KeyboardInterrupt
            work(progress)
            job.state = "cancelled" if job.cancelling.is_set() else "done"
        except KeyboardInterrupt:
            job.state = "cancelled"
        except FeaturelensError as err:
            job.state, job.error = "failed", str(err)
        except Exception as err:  # a job's bug must not take the server down; the page shows it
            job.state, job.error = "failed", f"{type(err).__name__}: {err}"
            traceback.print_exc()
        finally:
            job.finished.set()

    def _forget_old(self) -> None:
        ended = [job_id for job_id, job in self._jobs.items() if job.state not in ACTIVE]
        for job_id in ended[: max(0, len(ended) - KEPT_ENDED)]:
            del self._jobs[job_id]
