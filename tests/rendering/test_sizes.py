"""`size="auto"`: each unit renders at the size its receptive field calls for, recorded and overridable."""

import json

import pytest

from featurelens import render
from featurelens.errors import FeaturelensError
from featurelens.rendering import plan_render


def test_auto_shows_whole_image_units_at_the_input_size_and_renders_mid_layers_at_128(lite0):
    plan = plan_render(lite0, ["_blocks.8:1", "_blocks.12:3", "logit:espresso"])
    assert [(c.size, c.param_side) for c in plan.sizes] == [(128, 128), (224, 128), (224, 128)]
    mid, late, logit = (c.reason for c in plan.sizes)
    assert "receptive field 211 px is smaller than the 224 px input" in mid
    assert "receptive field 531 px spans the 224 px input" in late
    assert logit.startswith("whole-image unit") and logit.endswith("parameterized at 128 px and resampled")
    assert "224/128 px (parameterized at 128 px and resampled) (auto)" in plan.describe()


def test_an_explicit_size_overrides_auto(lite0):
    plan = plan_render(lite0, ["_blocks.8:1", "logit:espresso"], size=96)
    assert [(c.size, c.param_side, c.reason) for c in plan.sizes] == [(96, 96, "given"), (96, 96, "given")]


def test_units_of_two_sizes_render_in_separate_batches_in_the_order_given(lite0):
    calls = []
    result = render(lite0, ["_blocks.2:0", "logit:espresso", "_blocks.2:1"], steps=2, progress=lambda done, total: calls.append((done, total)))
    assert [u.unit for u in result.units] == ["_blocks.2:0", "logit:967", "_blocks.2:1"]
    assert [(u.image.shape[0], u.param_size) for u in result.units] == [(128, 128), (224, 128), (128, 128)]
    assert result.images.shape == (3, 224, 224, 3)  # smaller renders scaled up for the batch view
    # The 224 px unit runs first (one image a step), then the two 128 px units together.
    assert calls == [(1, 6), (2, 6), (4, 6), (6, 6)]


def test_render_json_records_each_units_size_and_reason(fashion, tmp_path):
    result = render(fashion, ["conv1:0", "logit:Trouser"], steps=4)
    result.save(tmp_path)
    summary = json.loads((tmp_path / "render.json").read_text())
    assert summary["size"] == "auto"
    assert [(u["size"], u["size_reason"].split(":")[0]) for u in summary["units"]] == [
        (28, "receptive field 3 px is smaller than the 28 px input, which is small already"), (28, "whole-image unit")
    ]


@pytest.mark.parametrize("size, message", [("big", "size must be a number of pixels or 'auto', got 'big'"), (8, "8 is below the minimum input size 28")])
def test_bad_sizes_are_one_line_errors(fashion, size, message):
    with pytest.raises(FeaturelensError, match=message):
        render(fashion, "conv1:0", size=size, steps=1)


def test_the_command_line_takes_auto_or_pixels(main_cli, tmp_path):
    code, err = main_cli("render", "--model", "fashion-cnn", "conv3:1", "--steps", "2", "--size", "auto", "--out", str(tmp_path / "a"))
    assert code == 0, err
    code, err = main_cli("render", "--model", "fashion-cnn", "conv3:1", "--steps", "2", "--size", "56", "--out", str(tmp_path / "b"))
    assert code == 0, err
    sizes = [json.loads((tmp_path / name / "render.json").read_text())["units"][0]["size"] for name in "ab"]
    assert sizes == [28, 56]
