"""`scripts/train_fashion_vit.py` writes into the working folder, never into the package, and a short retrain is the
shipped recipe: its first 50 steps give the shipped step-50 checkpoint again (a full retrain is too slow for a test)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import featurelens
from featurelens.data import fashion_mnist

VIT_SCRIPT = Path(__file__).resolve().parents[2] / "scripts/train_fashion_vit.py"
PACKAGE = Path(featurelens.__file__).resolve().parent


def package_hashes() -> dict[str, str]:
    return {str(path): hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(PACKAGE.rglob("*.pt"))}


def train(*args: str, cwd: Path, script: Path = VIT_SCRIPT) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PACKAGE.parent), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


@pytest.mark.skipif(not fashion_mnist.dataset_dir().is_dir(), reason="apt-get install dataset-fashion-mnist")
def test_a_short_retrain_writes_to_the_working_folder_the_shipped_first_steps(tmp_path: Path) -> None:
    before = package_hashes()
    done = train("--steps", "50", cwd=tmp_path)  # the default output: ./fashion_vit.pt
    assert done.returncode == 0, done.stderr[-2000:]
    assert "saved fashion_vit.pt" in done.stdout and "(1 threads)" in done.stdout
    assert package_hashes() == before  # nothing inside the package was written
    retrained = torch.load(tmp_path / "fashion_vit.pt", weights_only=True)
    shipped = torch.load(PACKAGE / "models/weights/fashion_vit_training/step0050.pt", weights_only=True)["state_dict"]
    assert retrained.keys() == shipped.keys()
    for name, tensor in shipped.items():  # other CPUs sum in another order: tiny drift
        torch.testing.assert_close(retrained[name], tensor, rtol=0, atol=1e-4)


@pytest.mark.parametrize("flag", ["--out", "--checkpoints"])
def test_an_output_inside_the_package_is_refused_in_one_line(tmp_path: Path, flag: str) -> None:
    before = package_hashes()
    target = PACKAGE / "models/weights" / ("fashion_vit.pt" if flag == "--out" else "fashion_vit_training")
    done = train(flag, str(target), "--steps", "1", cwd=tmp_path)
    assert done.returncode != 0
    assert done.stderr.strip().count("\n") == 0 and "inside the featurelens package" in done.stderr
    assert package_hashes() == before and list(tmp_path.iterdir()) == []
