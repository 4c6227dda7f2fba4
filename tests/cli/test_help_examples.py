"""Every --help ends with examples that work: each is shown whole, and passes `--dry-run` as printed (like the README's)."""

from __future__ import annotations

import shlex
import shutil

import pytest

from featurelens.cli.help_examples import EXAMPLES
from featurelens.photos import bundled_photos

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


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, fashion):
    """The files the examples name: photo.jpg, inv.pt; and for the music lines what test_readme provides."""
    root = tmp_path_factory.mktemp("help")
    bundled_photos()[1].save(root / "photo.jpg")
    shutil.copy(fashion.inverters["pool2"], root / "inv.pt")
    from tests.test_readme import _music_files

    _music_files(root)
    return root


def every_example() -> list[str]:
    return sorted({line for lines in EXAMPLES.values() for line in lines})


@pytest.mark.parametrize("line", every_example())
def test_example_passes_the_dry_run(line, workspace, main_cli, monkeypatch):
    if line.startswith("featurelens music"):
        pytest.importorskip("soundfile", reason="the audio extra")
    monkeypatch.chdir(workspace)
    monkeypatch.setenv("HOME", str(workspace))
    args = shlex.split(line)[1:]
    code, err = main_cli(*args, "--dry-run")
    assert code == 0, err
    assert not any(workspace.glob("*_dream.png")) and not (workspace / "atlas").exists()  # a dry run writes nothing


def test_atlas_accepts_size_auto_as_its_help_says(main_cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, err = main_cli("atlas", "--model", "fashion-cnn", "--data", "photos", "--size", "auto", "--dry-run")
    assert code == 0, err
    assert "size auto" in main_cli.out
    code, err = main_cli("atlas", "--model", "fashion-cnn", "--data", "photos", "--size", "big", "--dry-run")
    assert code == 2 and "--size must be a number of pixels or 'auto'" in err
