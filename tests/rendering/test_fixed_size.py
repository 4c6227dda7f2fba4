"""Models that accept one input size get exactly that size: transforms resample back to it, DeepDream resamples
each octave to it, and a size the model refuses is a one-line error naming the size it accepts."""

from __future__ import annotations


import pytest
import torch
import torch.nn.functional as F

from featurelens import dream, examples, load_model, project, render
from featurelens.errors import FeaturelensError
from featurelens.models.input_sizes import is_fixed_size, refusal
from featurelens.rendering import RobustnessTransform
from featurelens.deepdream.deepdream import plan_dream
from featurelens.rendering.optimize import plan_render

# A user model that checks its input size the way torchvision's VisionTransformer does (an AssertionError).
FIXED_MODEL = '''
import torch
from torch import nn


class Fixed(nn.Module):
    input_size = 32

    def __init__(self):
        super().__init__()
        self.conv_proj = nn.Conv2d(3, 8, 8, stride=8)
        self.pos = nn.Parameter(torch.randn(1, 16, 8) * 0.1)
        self.encoder = nn.Sequential(nn.LayerNorm(8), nn.Linear(8, 8), nn.GELU())
        self.heads = nn.Linear(8, 5)

    def forward(self, x):
        h, w = x.shape[-2:]
        torch._assert(h == self.input_size, f"Wrong image height! Expected {self.input_size} but got {h}!")
        torch._assert(w == self.input_size, f"Wrong image width! Expected {self.input_size} but got {w}!")
        tokens = self.conv_proj(x).flatten(2).transpose(1, 2) + self.pos
        return self.heads(self.encoder(tokens).mean(1))


def build():
    torch.manual_seed(0)
    return Fixed()
'''


@pytest.fixture(scope="module")
def fixed_spec(tmp_path_factory) -> str:
    source = tmp_path_factory.mktemp("fixed") / "fixed.py"
    source.write_text(FIXED_MODEL)
    return f"{source}:build"


@pytest.fixture(scope="module")
def fixed(fixed_spec):
    return load_model(fixed_spec)


def test_a_size_keeping_transform_returns_the_input_size_and_is_the_identity_without_warping() -> None:
    images = torch.rand(3, 1, 28, 28)
    generator = torch.Generator().manual_seed(0)
    warp = RobustnessTransform().for_size(28)
    assert warp(images, generator).shape[-1] == 31  # pad 3 each side, jitter 3: the model would see 31 px
    assert warp.keeping_size()(images, generator).shape[-2:] == (28, 28)
    still = RobustnessTransform(pad=0, jitter=0, scales=(1.0,), angles=(0,), keep_size=True)
    torch.testing.assert_close(still(images, generator), images, rtol=0, atol=1e-5)
    # Keeping the size resamples the same crop: a 2 px grey pad seen whole is the 32 px canvas resampled to 28 px.
    padded = RobustnessTransform(pad=2, jitter=0, scales=(1.0,), angles=(0,))
    canvas = F.pad(images, (2, 2, 2, 2), value=0.5)
    torch.testing.assert_close(padded(images, generator), canvas, rtol=0, atol=1e-5)
    expected = F.interpolate(canvas, size=28, mode="bilinear", align_corners=False)
    torch.testing.assert_close(padded.keeping_size()(images, generator), expected, rtol=0, atol=1e-5)


def test_dry_runs_tell_fixed_size_models_from_others(fixed, fashion) -> None:
    assert is_fixed_size(fixed, ["logit"])
    assert "Wrong image height! Expected 32 but got 48" in refusal(fixed, 48, ["logit"])
    assert refusal(fixed, 32, ["logit"]) is None
    assert not is_fixed_size(fashion, ["relu2"])  # a conv layer runs at any size
    assert is_fixed_size(fashion, ["logit"])  # its linear head is sized for 3×3 maps: 28 to 31 px only


def test_a_fixed_size_model_renders_its_logit_at_its_size_with_transforms_that_keep_it(fixed) -> None:
    plan = plan_render(fixed, "logit:3", steps=24)
    assert [c.size for c in plan.sizes] == [32] and plan.sizes[0].fixed
    assert "resample back" in plan.sizes[0].reason and "takes that size only" in plan.describe()
    unit = plan.run().units[0]
    with torch.no_grad():
        noise = fixed.module(fixed.normalize(torch.rand(64, 3, 32, 32, generator=torch.Generator().manual_seed(0))))[:, 3]
    assert unit.image.shape[:2] == (32, 32) and unit.activation > float(noise.max())  # above any of 64 noise images


def test_fashion_cnn_keeps_its_transforms_as_they_were(fashion) -> None:
    plan = plan_render(fashion, ["logit:1", "conv2:3"], steps=1, size=28)
    assert not any(c.fixed for c in plan.sizes)  # its logit runs on the transforms' 31 px images


@pytest.mark.parametrize("verb", ["render", "examples", "project"])
def test_a_refused_size_is_one_line_naming_the_accepted_size(fixed, verb) -> None:
    with pytest.raises(FeaturelensError) as caught:
        if verb == "render":
            render(fixed, "logit:3", size=48, steps=1, progress=False)
        elif verb == "examples":
            examples(fixed, "photos", "logit", size=48, progress=False)
        else:
            project(fixed, torch.rand(1, 3, 48, 48), "logit:0", method="gradient", progress=False)
    message = str(caught.value)
    assert "\n" not in message and "32×32" in message and "48×48" in message


def test_dream_on_a_fixed_size_model_resamples_each_octave_and_keeps_the_photo_size(fixed) -> None:
    photo = torch.rand(1, 3, 45, 60, generator=torch.Generator().manual_seed(1))
    result = dream(fixed, photo, "logit:3", octaves=2, steps=6, jitter=0, progress=False)
    assert result.image.shape == photo.shape
    assert result.final_values[0] > result.initial_values[0]


def test_dream_rolls_a_fixed_size_model_less(fixed, fashion) -> None:
    plan = plan_dream(fixed, torch.rand(1, 3, 112, 150), "logit:3")
    assert plan.tiled.fixed == (32, 32) and plan.tiled.roll_limit(32, 112, 150) == 16  # 32 px at 224, scaled to 112
    assert "resampled to the model's only size 32×32" in plan.describe()
    assert plan_dream(fashion, torch.rand(1, 1, 112, 150), "relu2").tiled.roll_limit(32, 112, 150) == 32  # a CNN: as before


def test_the_cli_says_the_accepted_size_in_one_line(fixed_spec, tmp_path, featurelens_cli) -> None:
    for args in (("render", "logit:3", "--size", "48"), ("examples", "--data", "photos", "--layers", "logit", "--size", "48")):
        done = featurelens_cli(*args, "--model", fixed_spec, "--out", str(tmp_path / args[0]))
        assert done.returncode == 2, done.stderr[-2000:]
        assert done.stderr.strip().count("\n") == 0 and "--size 32" in done.stderr and "Traceback" not in done.stderr


def test_the_cli_renders_and_dreams_a_fixed_size_model(fixed_spec, tmp_path, featurelens_cli) -> None:
    done = featurelens_cli("render", "logit:3", "--model", fixed_spec, "--steps", "4", "--out", str(tmp_path / "r"))
    assert done.returncode == 0, done.stderr[-2000:]
    photo = tmp_path / "photo.png"
    from PIL import Image

    Image.fromarray((torch.rand(40, 50, 3) * 255).byte().numpy()).save(photo)
    done = featurelens_cli("dream", str(photo), "--model", fixed_spec, "--objective", "logit:3", "--octaves", "2", "--steps", "2",
                           "--out", str(tmp_path / "d.png"))
    assert done.returncode == 0, done.stderr[-2000:]
