"""Progress of long jobs, one shape for every technique.

A plan's `run` takes `progress`: None or False (silent), True (a rich bar on stderr, drawn once work
starts, so a job that fails validation prints no bar), or a callable `progress(done, total)` called as
work finishes (`total` None when unknown). Techniques report through `Reporter`; the CLI passes True.
The Python verbs (`fl.render`, …) default to `progress=None`, which `shown_by_default` turns into a bar
when someone is watching (stderr is a terminal, or a Jupyter notebook) and silence otherwise (tests, pipes).
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Callable, Iterator, Union

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.text import Text

ProgressCallback = Callable[[int, Union[int, None]], None]
ProgressArg = Union[bool, ProgressCallback, None]


def in_notebook() -> bool:
    """Running in a Jupyter kernel (notebook, lab, Colab), where stderr is no terminal but a person watches."""
    shell = sys.modules.get("IPython")
    get_ipython = getattr(shell, "get_ipython", None)
    kernel = get_ipython() if get_ipython else None
    return kernel is not None and (type(kernel).__name__ == "ZMQInteractiveShell" or "google.colab" in str(type(kernel)))


def _stderr_is_terminal() -> bool:
    isatty = getattr(sys.stderr, "isatty", None)
    return bool(isatty and isatty())


def shown_by_default(progress: ProgressArg) -> ProgressArg:
    """A Python verb's `progress`: None (the default) is a bar in a terminal or a notebook, silence elsewhere;
    False is always silent, True always a bar, a callable is called."""
    if progress is None:
        return True if _stderr_is_terminal() or in_notebook() else None
    return progress


class _TextBar:
    """A one-line bar for a notebook without ipywidgets (rich's live display needs them): '\r' redraws the line."""

    def __init__(self, description: str):
        self.description = description
        self.drawn = False

    def update(self, done: int, total: int | None) -> None:
        self.drawn = True
        shown = f"{done}/{total}" if total else f"{done}"
        filled = int(20 * done / total) if total else 0
        sys.stderr.write(f"\r{self.description} [{'#' * filled}{'.' * (20 - filled)}] {shown}")
        sys.stderr.flush()

    def close(self) -> None:
        if self.drawn:
            sys.stderr.write("\n")


def _widgets() -> bool:
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return True


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
        self.text: _TextBar | None = None
        if progress is True and in_notebook() and not _widgets():
            self.text = _TextBar(description)
        elif progress is True:
            columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn()]
            if rate_unit:
                columns.append(_Rate(rate_unit))
            columns += [TimeElapsedColumn(), TimeRemainingColumn(), _Figures()]
            self.bar = Progress(*columns, console=Console(stderr=True), transient=transient)

    def update(self, done: int, total: int | None = None, **figures: float) -> None:
        if self.callback is not None:
            self.callback(done, total)
        if self.text is not None:
            self.text.update(done, total)
        if self.bar is None:
            return
        if self.task is None:
            self.bar.start()
            self.task = self.bar.add_task(self.description, total=total, completed=done, **figures)
        self.bar.update(self.task, total=total, completed=done, **figures)

    def close(self) -> None:
        if self.text is not None:
            self.text.close()
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
