"""Shared, cached fixtures: the real pretrained models load once per test session."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
import torch

from featurelens import load_model


@pytest.fixture(scope="session", autouse=True)
def model_cache_dir(tmp_path_factory):
    """Figures cached per model's weights (`featurelens.model_cache`) go to a folder of this session, not the user's cache."""
    folder = tmp_path_factory.mktemp("featurelens-cache")
    before = os.environ.get("FEATURELENS_CACHE_DIR")
    os.environ["FEATURELENS_CACHE_DIR"] = str(folder)
    yield folder
    if before is None:
        os.environ.pop("FEATURELENS_CACHE_DIR", None)
    else:
        os.environ["FEATURELENS_CACHE_DIR"] = before


@pytest.fixture(scope="session")
def lite0():
    """EfficientNet-Lite0 with its real ImageNet weights (the default model)."""
    return load_model("efficientnet-lite0")


@pytest.fixture(scope="session")
def music_cnn():
    """The shipped cold-start music network (`music-cnn`), loaded once."""
    return load_model("music-cnn")


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
    """Run the CLI's main() in-process, as the entry point does; returns (exit code, stderr); `.out` is its stdout."""
    from featurelens.cli.app import main

    def run(*args: str) -> tuple[int, str]:
        monkeypatch.setattr(sys, "argv", ["featurelens", *args])
        code = 0
        try:
            main()
        except SystemExit as done:
            code = done.code or 0
        captured = capsys.readouterr()
        run.out = captured.out
        return code, captured.err

    return run


def as_in_a_terminal() -> None:
    """`preexec_fn` for a CLI child that a test stops with SIGINT: a child of a background job inherits an ignored
    SIGINT (and Python then installs no Ctrl-C handler); a terminal gives the default, restored here."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run_featurelens(*args: str, cwd=None, timeout: float = 600) -> subprocess.CompletedProcess:
    """`featurelens ARGS…` in a subprocess, as a user runs it (the entry point's main)."""
    code = "from featurelens.cli.app import main; main()"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=cwd, timeout=timeout)


@pytest.fixture
def featurelens_cli():
    return run_featurelens


def called_norms(module, inputs) -> list[str]:
    """The names of the BatchNorm2d modules that run in a forward of `module` on `inputs`, in order (hooks removed)."""
    called, handles = [], []
    for name, norm in module.named_modules():
        if isinstance(norm, torch.nn.BatchNorm2d):
            handles.append(norm.register_forward_hook(lambda *_, name=name: called.append(name)))
    try:
        with torch.no_grad():
            module(inputs)
    finally:
        for handle in handles:
            handle.remove()
    return called


@pytest.fixture
def norms_called():
    """`called_norms`: which BatchNorms a forward runs (folded copies of a model have fewer)."""
    return called_norms


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


# Starts an <audio> element (pages preload none: they hold many) muted and reports [duration, playing, currentTime a moment later].
PLAY_AUDIO = """async audio => {
  audio.muted = true;
  await audio.play();
  await new Promise(done => setTimeout(done, 300));
  return [audio.duration, !audio.paused, audio.currentTime];
}"""


@pytest.fixture(scope="session")
def playwright_driver():
    """One Playwright driver for the whole session (its sync API runs one at a time); browsers launch from it."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not os.path.isfile(CHROMIUM):
        pytest.skip("apt-get install chromium")
    with sync_api.sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def chromium(playwright_driver):
    """Debian's Chromium through Playwright (never a downloaded browser), media allowed to play without a click."""
    browser = playwright_driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def music_clips(tmp_path_factory):
    """A handful of real clips (4 × 3 s, four instrument families of one song) from the music collection maker."""
    for module in ("music21", "fluidsynth", "soundfile"):
        pytest.importorskip(module, reason=f"{module} missing: pip install -e '.[audio]'")
    if not os.path.isfile("/usr/share/sounds/sf2/FluidR3_GM.sf2"):
        pytest.skip("apt-get install -y --no-install-recommends fluidsynth fluid-soundfont-gm")
    from featurelens.audio.collection import make_collection

    return make_collection(tmp_path_factory.mktemp("music"), clips=4, seconds=3.0, seed=11).folder
