"""Atlas tests: one small real atlas (fashion-cnn on Fashion-MNIST) built once and copied by tests that change it."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch

import featurelens as fl
from featurelens.data import fashion_mnist



@dataclass
class BuiltAtlas:
    """A built atlas: its folder, its job's summary, and how it was asked for (`atlas(fashion, DATA, layers, units, **settings)`)."""

    folder: Path
    summary: dict
    layers: list[str] = field(default_factory=lambda: ["conv2", "conv3", "logit"])
    units: int = 3
    settings: dict = field(default_factory=lambda: dict(steps=8, diverse=2, limit=200, k=9))
    data: str = "fashion-mnist:test"


@pytest.fixture(autouse=True)
def single_threaded(one_thread) -> None:
    """Every test here runs torch on one thread (tests/conftest.py)."""


@pytest.fixture(scope="session")
def fashion():
    """fashion-cnn of the atlas tests' own: renders leave a model's weights channels-last, which changes the last bits
    of what it computes after, so the suite's shared model stays out of them."""
    return fl.load_model("fashion-cnn")


@pytest.fixture(scope="session")
def lite0():
    """EfficientNet-Lite0 of the atlas tests' own (see `fashion`)."""
    return fl.load_model("efficientnet-lite0")


@pytest.fixture(scope="session")
def fashion_atlas(fashion, tmp_path_factory) -> BuiltAtlas:
    """A built atlas of conv2, conv3 and the logits, 3 units each (8 steps, 200 test images). Read it; copy it to change it."""
    if not fashion_mnist.dataset_dir().is_dir():
        pytest.skip("apt-get install dataset-fashion-mnist")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    built = BuiltAtlas(tmp_path_factory.mktemp("atlas") / "atlas", {})
    built.summary = fl.atlas(fashion, built.data, built.layers, built.units, out=built.folder, **built.settings).summary()
    torch.set_num_threads(before)
    return built


@pytest.fixture
def atlas_copy(fashion_atlas, tmp_path) -> Path:
    """A private copy of the small atlas, to extend or interrupt."""
    target = tmp_path / "atlas"
    shutil.copytree(fashion_atlas.folder, target)
    return target


@pytest.fixture
def file_times():
    return _file_times


def _file_times(folder: Path) -> dict[str, tuple[int, int]]:
    """{relative path: (mtime ns, size)} of every file under `folder`."""
    found = {}
    for root, _, files in os.walk(folder):
        for name in files:
            path = Path(root) / name
            stat = path.stat()
            found[path.relative_to(folder).as_posix()] = (stat.st_mtime_ns, stat.st_size)
    return found
