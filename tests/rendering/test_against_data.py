"""No render weaker than the data: every image is held against the data's best item on its own objective."""

from __future__ import annotations

import json

import pytest
import torch

import featurelens.rendering.data_best as data_best_module
from featurelens import render
from featurelens.capture import capture_activations
from featurelens.data.fashion_mnist import load_fashion_mnist
from featurelens.rendering import plan_render


def conv3_means(model, images: torch.Tensor) -> torch.Tensor:
    """conv3's channel means [N, 128] on uint8 Fashion-MNIST images [N, 28, 28], computed here without featurelens' pass."""
    with torch.no_grad():
        return capture_activations(model.module, model.normalize(images.float()[:, None] / 255), ["conv3"])["conv3"].mean((2, 3))


def test_fashion_conv3_renders_reach_the_best_test_image(fashion, one_thread):
    # at 128 steps from noise conv3:4 ends at -1.01 where a test image reaches -0.43 (issue 17), 74 and 121 below too
    result = render(fashion, ["conv3:4", "conv3:74", "conv3:121", "-conv3:52"], steps=128)
    assert result.data == "fashion-mnist:test"
    test_images = load_fashion_mnist("test")[0]
    first = conv3_means(fashion, test_images[:1000])
    for unit, channel, sign in zip(result.units, (4, 74, 121, 52), (1, 1, 1, -1)):
        assert unit.beats_data == (unit.activation >= unit.data_best)
        assert unit.beats_data, unit.unit
        assert unit.data_best >= float((sign * first[:, channel]).max())  # at least the best of the first thousand
        item = test_images[unit.data_best_item:unit.data_best_item + 1]
        assert unit.data_best == pytest.approx(sign * float(conv3_means(fashion, item)[0, channel]), abs=1e-5)  # and an item's
    assert any(unit.retry for unit in result.units)  # some lost at first and were rendered again from the best item


def test_without_retries_the_images_below_the_data_are_flagged_in_render_json(fashion, tmp_path, one_thread):
    result = render(fashion, ["conv3:4", "conv3:7", "-conv3:7"], steps=4, retry=False)
    units = json.loads(result.save(tmp_path).read_text())["units"]
    assert [u["beats_data"] for u in units] == [u["activation"] >= u["data_best"] for u in units]
    assert not all(u["beats_data"] for u in units)  # four steps from noise: some lose
    assert json.loads((tmp_path / "render.json").read_text())["below_data"] == sum(not u["beats_data"] for u in units)
    assert all(u["retry"] is None for u in units)


def test_dry_run_tells_the_fixed_cost_and_a_second_command_reads_it_cached(fashion, one_thread, monkeypatch):
    units = ["conv1:3+conv2:9"]  # a sum: no earlier test's pass covers it
    first = plan_render(fashion, units, steps=1, data="photos")
    assert "best of the bundled photos at 28 px: one pass over 17 items" in first.describe()
    done = first.run()
    second = plan_render(fashion, units, steps=1, data="photos")
    assert "best of the bundled photos at 28 px: cached, 0 s" in second.describe()

    def no_pass(*args):
        raise AssertionError("a second command ran the pass again")

    monkeypatch.setattr(data_best_module, "_stream", no_pass)
    again = second.run()
    assert again.units[0].natural_max == done.units[0].natural_max == again.units[0].data_best
