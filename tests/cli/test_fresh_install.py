"""Command-line mistakes in a fresh install: a new virtual environment with the package and its declared
dependencies only (no test tools, nothing a development environment happens to have, such as click).
Usage errors print the usual usage message and exit 2; library errors print one line exactly as written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def fresh_featurelens(tmp_path_factory) -> Path:
    """`featurelens` of a venv made here: `pip install torch==2.13.0 <project>` (a regular, non-editable install)."""
    venv = tmp_path_factory.mktemp("fresh") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    done = subprocess.run([*pip, "torch==2.13.0", str(PROJECT)], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    return venv / "bin" / "featurelens"


@pytest.mark.parametrize(
    "args, expected",
    [
        (["rendr"], "No such command 'rendr'"),
        (["project"], "Missing argument"),
        (["render", "_blocks.8:1", "--steps", "abc"], "Invalid value for '--steps'"),
        (["render", "--bogus"], "No such option: --bogus"),
        (["examples", "--layers", "conv2"], "Missing option '--data'"),
        (["invert", "shw"], "No such command 'shw'"),
    ],
)
def test_usage_mistakes_print_the_usage_and_exit_2(fresh_featurelens, args, expected) -> None:
    done = subprocess.run([str(fresh_featurelens), *args], capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "Usage: featurelens" in done.stderr
    assert expected in done.stderr


@pytest.mark.parametrize("zoo", ["timm", "torchvision"])
def test_library_errors_print_exactly_as_written(fresh_featurelens, zoo) -> None:
    done = subprocess.run([str(fresh_featurelens), "render", "layer1:0", "--model", f"{zoo}:resnet18"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip() == f"error: model '{zoo}:resnet18' needs the {zoo} package: pip install 'featurelens[{zoo}]'"


def test_help_and_dry_run_work(fresh_featurelens) -> None:
    assert subprocess.run([str(fresh_featurelens), "--help"], capture_output=True, text=True).returncode == 0
    done = subprocess.run([str(fresh_featurelens), "render", "logit:Egyptian cat", "--dry-run"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "would render 1 image(s) of efficientnet-lite0" in done.stdout and "logit:285" in done.stdout
