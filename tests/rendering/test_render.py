"""Behaviour of the render loop on the project's trained Fashion-MNIST CNN (fast) and the default model."""

import numpy as np
import pytest
import torch

from featurelens import render
from featurelens.errors import FeaturelensError
from featurelens.rendering import Regularizers
from featurelens.rendering.regularizers import gram_diversity, total_variation

FAST = dict(size=28, steps=48)


def test_same_seed_same_bytes_and_other_seed_differs(fashion):
    first = render(fashion, ["conv2:3", "conv3:7"], **FAST, seed=5)
    second = render(fashion, ["conv2:3", "conv3:7"], **FAST, seed=5)
    third = render(fashion, ["conv2:3", "conv3:7"], **FAST, seed=6)
    assert all(np.array_equal(a, b) for a, b in zip(first.images, second.images))
    assert not np.array_equal(first.images[0], third.images[0])


def test_many_units_render_as_one_batch_and_each_rises(fashion):
    calls = []
    result = render(fashion, [f"conv3:{c}" for c in (0, 1, 2, 3, 5, 6)], **FAST, progress=lambda done, total: calls.append((done, total)))
    total = 6 * FAST["steps"]
    assert calls == [(6 * (step + 1), total) for step in range(FAST["steps"])]  # one step advances all six images at once
    assert [u.unit for u in result.units] == [f"conv3:{c}" for c in (0, 1, 2, 3, 5, 6)]
    for unit in result.units:
        assert unit.image.shape == (28, 28, 1) and unit.image.dtype == np.uint8
        assert unit.activation > unit.natural_max  # beats every bundled photo


def test_minimising_drives_the_unit_below_every_photo(fashion):
    up, down = render(fashion, ["conv3:2", "-conv3:2"], **FAST).units
    # Figures are those of the expression: for "-conv3:2" that is minus the unit.
    unit_value_down, lowest_photo = -down.activation, -down.natural_max
    assert unit_value_down < lowest_photo < up.activation
    assert unit_value_down < 0


def test_two_units_at_once_drive_both(fashion):
    from featurelens.capture import capture_activations

    both = render(fashion, ["conv3:1+conv3:11"], size=28, steps=96).units[0]
    image = torch.tensor(both.image).permute(2, 0, 1)[None].float() / 255
    act = capture_activations(fashion.module, fashion.normalize(image), ["conv3"])["conv3"][0].mean((1, 2))
    alone_1, alone_11 = render(fashion, ["conv3:1", "conv3:11"], size=28, steps=1).units
    assert act[1] > alone_1.natural_max and act[11] > alone_11.natural_max


def test_interpolation_moves_from_first_unit_to_second(fashion):
    result = render(fashion, ["logit:1", "logit:7"], **FAST, batch=5, interpolate=True)
    assert len(result.units) == 5
    images = torch.tensor(np.stack(result.images)).permute(0, 3, 1, 2).float() / 255
    logits = fashion.module(fashion.normalize(images))
    margin = (logits[:, 1] - logits[:, 7]).tolist()
    assert margin[0] > 0 > margin[-1]
    assert margin[0] > margin[2] > margin[-1]


def test_diversity_makes_a_units_images_less_alike(fashion):
    def similarity(result):
        images = torch.tensor(np.stack(result.images)).permute(0, 3, 1, 2).float() / 255
        from featurelens.capture import capture_activations

        act = capture_activations(fashion.module, fashion.normalize(images), ["conv2"])["conv2"]
        return gram_diversity(act, [slice(0, len(images))]).mean().item()

    plain = render(fashion, ["conv2:5"], **FAST, batch=4)
    diverse = render(fashion, ["conv2:5"], **FAST, batch=4, diversity=50.0)
    assert similarity(diverse) < similarity(plain) - 0.02


def test_interrupt_keeps_what_was_finished(fashion):
    done = []

    def stop_after_ten(finished, total):
        done.append(finished)
        if len(done) == 10:
            raise KeyboardInterrupt

    result = render(fashion, ["conv3:0", "conv3:1"], size=28, steps=200, progress=stop_after_ten)
    assert result.interrupted and result.steps == 10  # the tenth step completed, then Ctrl-C
    assert len(result.images) == 2 and result.images[0].std() > 0


def test_every_parameterization_and_prior_runs_to_a_higher_activation(fashion):
    for param in ("pixel", "fft", "maco"):
        unit = render(fashion, ["conv3:1"], size=28, steps=128, param=param).units[0]
        assert unit.activation > unit.natural_max, param



def test_total_variation_prior_smooths_the_image(fashion):
    rough = render(fashion, ["conv1:4"], **FAST).images[0]
    smooth = render(fashion, ["conv1:4"], **FAST, regularizers=Regularizers(tv=20.0)).images[0]
    tv = lambda img: total_variation(torch.tensor(img).permute(2, 0, 1)[None].float() / 255).item()
    assert tv(smooth) < tv(rough)


@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(steps=0), "steps must be positive"),
        (dict(size=16), "below the minimum input size 28"),
        (dict(param="wavelet"), "unknown param 'wavelet'"),
        (dict(interpolate=True, batch=3), "exactly two units"),
        (dict(precision="float16"), "precision use one of float32, bfloat16"),
    ],
)
def test_bad_settings_are_one_line_errors(fashion, overrides, message):
    with pytest.raises(FeaturelensError, match=message):
        render(fashion, ["conv3:1"], **overrides)


def test_class_logit_by_name_on_the_default_model(lite0):
    unit = render(lite0, ['logit:"espresso"'], size=64, steps=24).units[0]
    assert unit.unit == "logit:967"
    assert unit.activation > unit.natural_max


def test_bfloat16_steps_are_deterministic_and_reach_what_float32_reaches(lite0):
    units = ["_blocks.10:0", "logit:967"]
    full = render(lite0, units, size=96, steps=24, retry=False)
    lowered = render(lite0, units, size=96, steps=24, retry=False, precision="bfloat16")
    again = render(lite0, units, size=96, steps=24, retry=False, precision="bfloat16")
    assert all(np.array_equal(a, b) for a, b in zip(lowered.images, again.images))
    assert not np.array_equal(full.images[0], lowered.images[0])  # the steps did run in bfloat16
    # Figures are measured in float32 on the final images. 24 steps from noise are chaotic (one ReLU6 mask element
    # flipped by rounding sends a unit elsewhere: ±20 % per unit), so the units are held to float32 together.
    reached = sum(unit.activation for unit in lowered.units)
    assert reached == pytest.approx(sum(unit.activation for unit in full.units), rel=0.15)


def test_steps_run_on_a_copy_with_the_batchnorms_outside_the_rendered_block_folded(lite0, monkeypatch, norms_called):
    """The loop runs a copy of EfficientNet-Lite0 whose BatchNorms outside the rendered block are folded into their
    convolutions (fewer passes over the maps a step); the model is left as it was."""
    from torch import nn

    from featurelens.capture.inference import fold_batchnorm
    from featurelens.rendering import loop

    networks = []
    monkeypatch.setattr(loop, "fold_batchnorm", lambda *args: networks.append(fold_batchnorm(*args)) or networks[-1])
    norms = [name for name, m in lite0.module.named_modules() if isinstance(m, nn.BatchNorm2d)]
    result = render(lite0, ["_blocks.10:3"], size=64, steps=4, retry=False)
    assert len(networks) == 1 and networks[0] is not lite0.module
    assert [name for name, m in lite0.module.named_modules() if isinstance(m, nn.BatchNorm2d)] == norms
    assert not any(m._forward_hooks for m in lite0.module.modules())
    image = lite0.normalize(torch.from_numpy(result.images[0]).permute(2, 0, 1)[None].float() / 255)
    called = norms_called(networks[0], image)
    assert called and all(name.startswith("_blocks.10.") for name in called)  # the rendered block stays whole


def test_measure_takes_the_activation_from_the_model_and_only_the_robust_samples_from_the_faster_copy(fashion):
    import copy

    from featurelens.rendering.measure import measure
    from featurelens.units import PerImageTargets, parse_units

    images = torch.rand(2, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    objective = PerImageTargets([parse_units("conv3:0"), parse_units("conv3:1")])
    doubled = copy.deepcopy(fashion.module)  # conv3 is linear in its weights and bias: every value doubles
    with torch.no_grad():
        doubled.conv3.weight.mul_(2), doubled.conv3.bias.mul_(2)
    plain = measure(fashion, objective, images, None, torch.Generator().manual_seed(1))
    other = measure(fashion, objective, images, None, torch.Generator().manual_seed(1), network=doubled)
    assert torch.equal(other.activation, plain.activation)
    torch.testing.assert_close(other.robust_activation, 2 * plain.robust_activation)


def test_one_gather_for_channel_batches_equals_per_unit_values():
    from featurelens.units import PerImageTargets, parse_units

    targets = PerImageTargets([parse_units(t) for t in ("L:3", "L:1", "-L:2", "0.5*L:0")])
    activations = {"L": torch.randn(4, 5, 3, 3)}
    assert targets.channel_batch is not None
    assert torch.allclose(targets.values(activations), targets.values(activations, gather=False))
    assert PerImageTargets([parse_units("L:1@2,2")]).channel_batch is None
    assert PerImageTargets([parse_units("L:1+M:2")]).channel_batch is None
