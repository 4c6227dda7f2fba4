"""Shared, cached fixtures: the real pretrained models load once per test session."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from featurelens import load_model


@pytest.fixture(scope="session")
def lite0():
    """EfficientNet-Lite0 with its real ImageNet weights (the default model)."""
    return load_model("efficientnet-lite0")


@pytest.fixture(scope="session")
def fashion():
    """The project's own Fashion-MNIST CNN with its shipped trained weights."""
    return load_model("fashion-cnn")


@pytest.fixture
def one_thread():
    """One torch thread while the test runs (restored after): as each Ray worker has, and faster for small batches on a busy box."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def main_cli(monkeypatch, capsys):
    """Run the CLI's main() in-process, as the entry point does; returns (exit code, stderr)."""
    from featurelens.cli.app import main

    def run(*args: str) -> tuple[int, str]:
        monkeypatch.setattr(sys, "argv", ["featurelens", *args])
        code = 0
        try:
            main()
        except SystemExit as done:
            code = done.code or 0
        return code, capsys.readouterr().err

    return run


def run_featurelens(*args: str, cwd=None, timeout: float = 600) -> subprocess.CompletedProcess:
    """`featurelens ARGS…` in a subprocess, as a user runs it (the entry point's main)."""
    code = "from featurelens.cli.app import main; main()"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=cwd, timeout=timeout)


@pytest.fixture
def featurelens_cli():
    return run_featurelens


@pytest.fixture(scope="session")
def ray_local():
    """A local Ray instance with 2 CPUs, started once per session (≈ 7 s) for the --engine ray tests; jobs join it."""
    ray = pytest.importorskip("ray", reason="pip install -e '.[ray]' (scripts/install.sh does)")
    before = os.environ.get("RAY_AUTH_MODE")
    os.environ["RAY_AUTH_MODE"] = "disabled"  # a throwaway local instance: no token file in ~/.ray
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()
    if before is None:
        os.environ.pop("RAY_AUTH_MODE", None)
    else:
        os.environ["RAY_AUTH_MODE"] = before


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required"]


@pytest.fixture(scope="module")
def chromium():
    """Debian's Chromium through Playwright (never a downloaded browser), media allowed to play without a click.
    Per module: Playwright's sync API runs one instance at a time, and other modules start their own."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not os.path.isfile(CHROMIUM):
        pytest.skip("apt-get install chromium")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()
