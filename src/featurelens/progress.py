"""Progress of long jobs, one shape for every technique.

A technique takes `progress`: None (silent), True (a rich bar on stderr, drawn once work starts,
so a job that fails validation prints no bar), or a callable `progress(done, total)` called as work
finishes (`total` None when unknown). Techniques report through `Reporter`; the CLI passes True.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator, Union

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.text import Text

ProgressCallback = Callable[[int, Union[int, None]], None]
ProgressArg = Union[bool, ProgressCallback, None]


class _Rate(ProgressColumn):
    """Items per second, e.g. '1,750 images/s'."""

    def __init__(self, unit: str):
        super().__init__()
        self.unit = unit

    def render(self, task) -> Text:
        return Text(f"{task.speed:,.0f} {self.unit}/s" if task.speed else f"… {self.unit}/s")


class _Figures(ProgressColumn):
    """Named figures the job reports with its progress, e.g. 'loss 0.0123'."""

    def render(self, task) -> Text:
        return Text("  ".join(f"{name} {value:.4g}" for name, value in task.fields.items()))


class Reporter:
    """`update(done, total, **figures)` as work finishes; forwards to a callback or a rich bar."""

    def __init__(self, progress: ProgressArg, description: str, rate_unit: str | None, transient: bool):
        self.callback = progress if callable(progress) else None
        self.bar: Progress | None = None
        self.task = None
        self.description = description
        if progress is True:
            columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn()]
            if rate_unit:
                columns.append(_Rate(rate_unit))
            columns += [TimeElapsedColumn(), TimeRemainingColumn(), _Figures()]
            self.bar = Progress(*columns, console=Console(stderr=True), transient=transient)

    def update(self, done: int, total: int | None = None, **figures: float) -> None:
        if self.callback is not None:
            self.callback(done, total)
        if self.bar is None:
            return
        if self.task is None:
            self.bar.start()
            self.task = self.bar.add_task(self.description, total=total, completed=done, **figures)
        self.bar.update(self.task, total=total, completed=done, **figures)

    def close(self) -> None:
        if self.bar is not None and self.task is not None:
            self.bar.stop()


@contextmanager
def reporting(progress: ProgressArg, description: str, rate_unit: str | None = None, transient: bool = False) -> Iterator[Reporter]:
    """A `Reporter` for the length of a job; the bar (if any) is closed however the job ends."""
    reporter = Reporter(progress, description, rate_unit, transient)
    try:
        yield reporter
    finally:
        reporter.close()
