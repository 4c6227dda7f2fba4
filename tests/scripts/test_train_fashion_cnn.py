"""`scripts/train_fashion_cnn.py` writes into the working folder, never into the package, and a short retrain is the
shipped recipe: the same bytes twice, and the shipped step-10 checkpoint again (a full retrain is too slow for a test)."""

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

SCRIPT = Path(__file__).resolve().parents[2] / "scripts/train_fashion_cnn.py"
PACKAGE = Path(featurelens.__file__).resolve().parent


def package_hashes() -> dict[str, str]:
    return {str(path): hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(PACKAGE.rglob("*.pt"))}


def train(*args: str, cwd: Path, script: Path = SCRIPT) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PACKAGE.parent), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


@pytest.mark.skipif(not fashion_mnist.dataset_dir().is_dir(), reason="apt-get install dataset-fashion-mnist")
def test_a_short_retrain_writes_to_the_working_folder_the_same_bytes_twice(tmp_path: Path) -> None:
    before = package_hashes()
    runs = []
    for name in ("first", "second"):
        (tmp_path / name).mkdir()
        done = train("--steps", "10", cwd=tmp_path / name)  # the default output: ./fashion_cnn.pt
        assert done.returncode == 0, done.stderr[-2000:]
        assert "saved fashion_cnn.pt" in done.stdout
        runs.append((tmp_path / name / "fashion_cnn.pt").read_bytes())
    assert package_hashes() == before  # nothing inside the package was written
    assert runs[0] == runs[1]
    # The script's first 10 steps are the shipped training's (other threads or CPUs sum in another order: tiny drift).
    retrained = torch.load(tmp_path / "first" / "fashion_cnn.pt", weights_only=True)
    shipped = torch.load(PACKAGE / "models/weights/fashion_cnn_training/step0010.pt", weights_only=True)["state_dict"]
    for name, tensor in shipped.items():
        torch.testing.assert_close(retrained[name], tensor, rtol=0, atol=1e-4)


@pytest.mark.parametrize("flag", ["--out", "--checkpoints"])
def test_an_output_inside_the_package_is_refused_in_one_line(tmp_path: Path, flag: str) -> None:
    before = package_hashes()
    target = PACKAGE / "models/weights" / ("fashion_cnn.pt" if flag == "--out" else "fashion_cnn_training")
    done = train(flag, str(target), "--steps", "1", cwd=tmp_path)
    assert done.returncode != 0
    assert done.stderr.strip().count("\n") == 0 and "inside the featurelens package" in done.stderr
    assert package_hashes() == before and list(tmp_path.iterdir()) == []


def test_the_music_script_refuses_an_output_inside_the_package_too(tmp_path: Path) -> None:
    pytest.importorskip("music21", reason="pip install -e '.[audio]'")
    before = package_hashes()
    done = train("--out", str(PACKAGE / "audio/weights/music_cnn.pt"), "--collection", str(tmp_path / "collection"),
                 cwd=tmp_path, script=SCRIPT.with_name("train_music_cnn.py"))
    assert done.returncode != 0 and "inside the featurelens package" in done.stderr
    assert package_hashes() == before and list(tmp_path.iterdir()) == []
