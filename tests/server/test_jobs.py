"""The server's job queue: bounded overall and per client, duplicates merged, cancel, and close stops everything."""

from __future__ import annotations

import threading
import time

import pytest

from featurelens.server.jobs import Busy, JobRunner


def waiting_work(started: threading.Event, release: threading.Event, steps: list[int]):
    """Work that reports progress every 10 ms until released (as a render reports each step)."""

    def work(progress) -> None:
        started.set()
        step = 0
        while not release.is_set():
            step += 1
            steps.append(step)
            progress(step, None)
            time.sleep(0.01)

    return work


def test_the_queue_takes_at_most_its_bounds_and_merges_duplicates() -> None:
    runner = JobRunner(max_jobs=3, max_per_client=2)
    started, release = threading.Event(), threading.Event()
    try:
        first = runner.submit("a", "job a", waiting_work(started, release, []), client="one")
        assert started.wait(5) and first.state == "running"
        assert runner.submit("a", "job a again", lambda progress: None, client="one") is first  # merged
        runner.submit("b", "job b", lambda progress: None, client="one")
        with pytest.raises(Busy, match="this client has 2 jobs"):
            runner.submit("c", "job c", lambda progress: None, client="one")
        runner.submit("c", "job c", lambda progress: None, client="two")
        with pytest.raises(Busy, match="3 jobs are queued or running"):
            runner.submit("d", "job d", lambda progress: None, client="three")
        assert len(runner.active()) == 3 and runner.queued() == 2
    finally:
        release.set()
        runner.close()


def test_a_cancelled_queued_job_never_runs_and_a_running_one_stops_at_its_next_report() -> None:
    runner = JobRunner()
    started, release, steps = threading.Event(), threading.Event(), []
    ran = []
    try:
        running = runner.submit("a", "a", waiting_work(started, release, steps))
        queued = runner.submit("b", "b", lambda progress: ran.append("b"))
        assert started.wait(5)
        assert runner.cancel(queued.id).state == "cancelled"
        runner.cancel(running.id)
        assert running.finished.wait(5) and running.state == "cancelled"
        count = len(steps)
        time.sleep(0.1)
        assert len(steps) == count and not ran  # stopped, and the queued job never ran
        later = runner.submit("c", "c", lambda progress: ran.append("c"))
        assert later.finished.wait(5) and later.state == "done" and ran == ["c"]
    finally:
        release.set()
        runner.close()


def test_close_cancels_the_queue_and_stops_the_running_job_within_its_timeout() -> None:
    runner = JobRunner(max_jobs=500, max_per_client=500)
    started, release, steps = threading.Event(), threading.Event(), []
    running = runner.submit("first", "first", waiting_work(started, release, steps))
    queued = [runner.submit(f"job {n}", "", lambda progress: None) for n in range(400)]
    assert started.wait(5)
    began = time.monotonic()
    runner.close(timeout=5)
    assert time.monotonic() - began < 2
    assert running.state == "cancelled" and all(job.state == "cancelled" for job in queued)
    with pytest.raises(Busy, match="stopping"):
        runner.submit("late", "late", lambda progress: None)


def test_a_failing_job_is_reported_and_the_next_one_runs() -> None:
    runner = JobRunner()
    try:
        broken = runner.submit("x", "x", lambda progress: 1 / 0)
        fine = runner.submit("y", "y", lambda progress: progress(1, 1))
        assert fine.finished.wait(5) and fine.state == "done"
        assert broken.state == "failed" and "ZeroDivisionError" in broken.error
        assert broken in runner.active("x")  # the page shows the failure
    finally:
        runner.close()
