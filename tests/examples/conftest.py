"""Dataset-examples tests: one torch thread (small batches are dominated by thread hand-offs on a busy 2-core box),
and the real `featurelens` command run in a subprocess. Models come from the session fixtures in tests/conftest.py."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from featurelens.data import fashion_mnist


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def fashion_data() -> None:
    if not fashion_mnist.dataset_dir().is_dir():
        pytest.skip("apt-get install dataset-fashion-mnist")


def run_featurelens(*args: str, cwd=None, timeout: float = 600) -> subprocess.CompletedProcess:
    """`featurelens ARGS…` as a user runs it (the installed entry point's main)."""
    code = "from featurelens.cli.app import main; main()"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=cwd, timeout=timeout)


@pytest.fixture
def featurelens_cli():
    return run_featurelens
