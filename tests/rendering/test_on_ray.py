"""Renders on Ray (a local instance with 2 CPUs, `ray_local`) equal local renders byte for byte with the same seed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import featurelens as fl
from featurelens.engine import Engine
from featurelens.errors import FeaturelensError
from featurelens.rendering import RenderSettings, plan_render
from featurelens.rendering.on_ray import render_plans_on_ray

SMALL = dict(size=28, steps=12, seed=7)


# Each Ray worker renders with one torch thread: the local reference does too (float sums may depend on threads).
pytestmark = pytest.mark.usefixtures("one_thread")


def figures(result) -> list[tuple]:
    return [(u.unit, u.objective, u.activation, u.robust_activation, u.natural_max) for u in result.units]


def test_eight_units_render_the_same_bytes_on_ray(ray_local, fashion) -> None:
    local = fl.render(fashion, "conv2:0..7", max_batch=4, **SMALL)
    shown = []
    on_ray = fl.render(fashion, "conv2:0..7", max_batch=4, engine="ray", **SMALL, progress=lambda done, total: shown.append(done))
    assert on_ray.images.shape == (8, 28, 28, 1) and np.array_equal(on_ray.images, local.images)
    assert figures(on_ray) == figures(local) and on_ray.steps == local.steps == 12 and not on_ray.interrupted
    assert shown[-1] == 8 * 12


def test_several_plans_share_the_cluster_and_each_equals_its_local_run(ray_local, fashion) -> None:
    """What an atlas does: every batch of several plans (two layers here) on the workers at once."""
    settings = RenderSettings(max_batch=2, **SMALL)
    plans = [plan_render(fashion, units, settings) for units in ("conv1:0..2", "conv3:5..8")]
    results = render_plans_on_ray(plans, Engine("ray", workers=2))
    for plan, result in zip(plans, results):
        local = plan.run()
        assert np.array_equal(result.images, local.images) and figures(result) == figures(local)


def test_the_render_command_on_ray_writes_the_local_pictures(ray_local, main_cli, tmp_path: Path) -> None:
    args = ["render", "conv2:3..6", "--model", "fashion-cnn", "--size", "28", "--steps", "8", "--max-batch", "2"]
    assert main_cli(*args, "--out", str(tmp_path / "local"))[0] == 0
    code, err = main_cli(*args, "--engine", "ray", "--out", str(tmp_path / "ray"))
    assert code == 0, err
    pictures = sorted(p.name for p in (tmp_path / "local").glob("*.png"))
    assert len(pictures) >= 4
    assert all((tmp_path / "ray" / name).read_bytes() == (tmp_path / "local" / name).read_bytes() for name in pictures)


def test_a_mistake_on_a_worker_comes_back_as_its_one_line_error(ray_local, tmp_path: Path) -> None:
    model_file = tmp_path / "tiny.py"
    model_file.write_text("import torch\n\nclass Tiny(torch.nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                          "        self.conv = torch.nn.Conv2d(3, 4, 3)\n\n    def forward(self, x):\n        return self.conv(x)\n")
    plan = plan_render(f"{model_file}:Tiny", "conv:0", RenderSettings(engine="ray", size=16, steps=2))
    model_file.unlink()  # a spec travels as text: the workers load it, and now cannot
    with pytest.raises(FeaturelensError, match=r"^model file '.*tiny.py' not found"):
        plan.run()
