"""A rich progress bar for long jobs, drawn on stderr and only once work starts (errors stay one line)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.text import Text


class _Rate(ProgressColumn):
    """Items per second, e.g. '1,750 images/s'."""

    def __init__(self, unit: str):
        super().__init__()
        self.unit = unit

    def render(self, task) -> Text:
        return Text(f"{task.speed:,.0f} {self.unit}/s" if task.speed else f"… {self.unit}/s")


@contextmanager
def progress_bar(
    description: str, total: int | None, completed: int = 0, rate_unit: str | None = None, transient: bool = False
) -> Iterator[Callable[[int], None]]:
    """Yield `advance(n)`. The bar appears at the first advance, so a job that fails validation prints no bar.

    `completed` starts the bar part-way (a resumed job); `rate_unit` adds an items-per-second column."""
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn()]
    if rate_unit:
        columns.append(_Rate(rate_unit))
    columns += [TimeElapsedColumn(), TimeRemainingColumn()]
    bar = Progress(*columns, console=Console(stderr=True), transient=transient)
    task = None

    def advance(n: int = 1) -> None:
        nonlocal task
        if task is None:
            bar.start()
            task = bar.add_task(description, total=total, completed=completed)
        bar.advance(task, n)

    try:
        yield advance
    finally:
        if task is not None:
            bar.stop()
