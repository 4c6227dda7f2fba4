"""Progress by default in Python: a bar when someone watches (a terminal, a notebook), silence in pipes and tests."""

from __future__ import annotations

import io
import sys
import types

import pytest

import featurelens as fl
from featurelens import progress as progress_module
from featurelens.progress import Reporter, shown_by_default


class _Stream(io.StringIO):
    def __init__(self, terminal: bool):
        super().__init__()
        self.terminal = terminal

    def isatty(self) -> bool:
        return self.terminal


def _kernel(monkeypatch, name: str | None) -> None:
    """Pretend IPython runs a shell of class `name` (None: no IPython at all)."""
    if name is None:
        monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: None))
        return
    shell = type(name, (), {})()
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: shell))


@pytest.mark.parametrize(
    "terminal, shell, shown",
    [
        (True, None, True),  # a terminal
        (False, None, False),  # a pipe, a log file, pytest's capture
        (False, "ZMQInteractiveShell", True),  # a Jupyter notebook: stderr is no terminal but a person watches
        (False, "TerminalInteractiveShell", False),  # IPython in a pipe
    ],
)
def test_the_default_shows_a_bar_only_when_someone_watches(monkeypatch, terminal, shell, shown):
    monkeypatch.setattr(sys, "stderr", _Stream(terminal))
    _kernel(monkeypatch, shell)
    assert shown_by_default(None) is (True if shown else None)
    assert shown_by_default(False) is False  # always silent
    assert shown_by_default(True) is True  # always shown
    callback = print
    assert shown_by_default(callback) is callback


def test_a_notebook_without_widgets_gets_a_text_bar(monkeypatch):
    stream = _Stream(False)
    monkeypatch.setattr(sys, "stderr", stream)
    _kernel(monkeypatch, "ZMQInteractiveShell")
    monkeypatch.setattr(progress_module, "_widgets", lambda: False)
    reporter = Reporter(True, "rendering 4 image(s)", None, False)
    reporter.update(2, 4)
    reporter.close()
    assert "\rrendering 4 image(s) [##########..........] 2/4\n" == stream.getvalue()


@pytest.fixture
def bars(monkeypatch):
    """The bars the verbs draw: each Reporter's description when it was handed a bar to draw (rich, on stderr)."""
    drawn = []
    original = Reporter.__init__

    def spy(self, progress, description, *args):
        original(self, progress, description, *args)
        if self.bar is not None or self.text is not None:
            drawn.append(description)

    monkeypatch.setattr(Reporter, "__init__", spy)
    _kernel(monkeypatch, None)
    return drawn


FAST = dict(size=28, steps=3, param="pixel")


def test_a_verb_in_a_terminal_shows_progress_by_default_and_false_silences_it(fashion, bars, monkeypatch):
    monkeypatch.setattr(sys, "stderr", _Stream(True))
    fl.render(fashion, "conv2:1", **FAST)
    assert bars == ["rendering 1 image(s)"]
    fl.render(fashion, "conv2:1", **FAST, progress=False)
    assert bars == ["rendering 1 image(s)"]


def test_a_pipe_is_silent_unless_asked(fashion, bars, monkeypatch):
    monkeypatch.setattr(sys, "stderr", _Stream(False))
    fl.render(fashion, "conv2:1", **FAST)
    assert bars == []
    calls = []
    fl.render(fashion, "conv2:1", **FAST, progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (3, 3) and bars == []
    fl.render(fashion, "conv2:1", **FAST, progress=True)
    assert bars == ["rendering 1 image(s)"]
