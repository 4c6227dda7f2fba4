"""Every --help ends with two or three examples, each shown whole; tests/test_readme.py runs each for real, as printed."""

from __future__ import annotations

import pytest

from featurelens.cli.help_examples import EXAMPLES

WIDTH = 76  # an example fits an 80-column terminal's help, so it is never wrapped


def shown_examples(text: str) -> list[str]:
    """The example lines at the end of a --help page."""
    lines = [line.strip() for line in text.splitlines()]
    assert "Examples:" in lines, text
    return [line for line in lines[lines.index("Examples:") + 1:] if line]


@pytest.mark.parametrize("command", list(EXAMPLES))
def test_help_ends_with_its_examples(command, main_cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    code, err = main_cli(*command.split(), "--help")
    assert code == 0, err
    assert shown_examples(main_cli.out) == EXAMPLES[command]
    assert 2 <= len(EXAMPLES[command]) <= 3
    assert all(len(line) <= WIDTH for line in EXAMPLES[command])


def test_atlas_accepts_size_auto_as_its_help_says(main_cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, err = main_cli("atlas", "--model", "fashion-cnn", "--data", "photos", "--size", "auto", "--dry-run")
    assert code == 0, err
    assert "size auto" in main_cli.out
    code, err = main_cli("atlas", "--model", "fashion-cnn", "--data", "photos", "--size", "big", "--dry-run")
    assert code == 2 and "--size must be a number of pixels or 'auto'" in err
