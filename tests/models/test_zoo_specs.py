"""`torchvision:` and `timm:` specs: pretrained by default through the zoo's own download cache, `:random` on
request, `:file.pth` from disk. Neither zoo imports beside the CPU torch build this project tests on, so stand-in
modules with the zoos' API are used; their pretrained weights go through torch's real hub cache (`TORCH_HOME`),
and a download is attempted only from a closed port on this machine (no network)."""

import sys
import types

import pytest
import torch
from torch import nn

from featurelens import load_model
from featurelens.errors import FeaturelensError

UNREACHABLE = "http://127.0.0.1:9/weights"  # the discard port: refused at once, never leaves the machine


class TinyNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.fc = nn.Linear(4, 1000)

    def forward(self, x):
        return self.fc(self.conv(x).mean((2, 3)))


class Preset:
    crop_size = [176]
    mean = [0.5, 0.5, 0.5]
    std = [0.25, 0.25, 0.25]


class TinyNetWeights:
    """Like a torchvision WeightsEnum member: a URL and the preprocessing of the weights."""

    url = f"{UNREACHABLE}/tinynet-0123abcd.pth"

    def transforms(self):
        return Preset()


def pretrained_state() -> dict:
    return {k: torch.full_like(v, 0.25) for k, v in TinyNet().state_dict().items()}


@pytest.fixture
def fake_zoos(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))

    def get_model(name, weights=None):
        if name != "tinynet":
            raise ValueError(name)
        model = TinyNet()
        if weights == "DEFAULT":  # torchvision loads through torch hub's cache, downloading when absent
            model.load_state_dict(torch.hub.load_state_dict_from_url(TinyNetWeights.url, progress=False))
        return model

    torchvision = types.ModuleType("torchvision")
    torchvision.models = types.SimpleNamespace(
        get_model=get_model, list_models=lambda: ["tinynet", "resnet18"],
        get_model_weights=lambda name: types.SimpleNamespace(DEFAULT=TinyNetWeights()),
    )
    timm = types.ModuleType("timm")
    timm.create_model = lambda name, pretrained=False: get_model(name.replace("timm_", ""), "DEFAULT" if pretrained else None)
    timm.list_models = lambda: ["timm_tinynet"]
    timm.data = types.SimpleNamespace(resolve_data_config=lambda cfg, model: {"input_size": (3, 96, 96), "mean": (0.5,) * 3, "std": (0.25,) * 3})
    monkeypatch.setitem(sys.modules, "torchvision", torchvision)
    monkeypatch.setitem(sys.modules, "timm", timm)
    return tmp_path / "torch-home" / "hub" / "checkpoints"


def test_pretrained_is_the_default_and_comes_from_the_zoos_cache(fake_zoos) -> None:
    fake_zoos.mkdir(parents=True)
    torch.save(pretrained_state(), fake_zoos / "tinynet-0123abcd.pth")
    model = load_model("torchvision:tinynet")
    assert torch.equal(model.module.conv.weight, torch.full((4, 3, 3, 3), 0.25))
    assert model.input_size == 176 and model.mean == (0.5, 0.5, 0.5) and len(model.class_names) == 1000
    assert torch.equal(load_model("timm:timm_tinynet").module.fc.weight, torch.full((1000, 4), 0.25))


def test_missing_pretrained_weights_are_one_line_with_the_cache_and_the_alternatives(fake_zoos) -> None:
    with pytest.raises(FeaturelensError) as caught:
        load_model("torchvision:tinynet")
    message = str(caught.value)
    assert "\n" not in message
    assert str(fake_zoos / "tinynet-0123abcd.pth") in message  # where the weights would be
    assert "torchvision:tinynet:random" in message and "torchvision:tinynet:FILE.pth" in message
    with pytest.raises(FeaturelensError, match="timm:timm_tinynet:random"):
        load_model("timm:timm_tinynet")


def test_random_weights_on_request_touch_no_cache(fake_zoos) -> None:
    first = load_model("torchvision:tinynet:random")
    assert not fake_zoos.exists()
    assert not torch.equal(first.module.conv.weight, torch.full((4, 3, 3, 3), 0.25))
    assert load_model("timm:timm_tinynet:random").input_size == 96


def test_weights_file_and_unknown_names(fake_zoos, tmp_path) -> None:
    weights = tmp_path / "tiny.pth"
    state = {k: torch.full_like(v, 0.5) for k, v in TinyNet().state_dict().items()}
    torch.save(state, weights)
    model = load_model(f"torchvision:tinynet:{weights}")
    assert torch.equal(model.module.conv.weight, torch.full((4, 3, 3, 3), 0.5))
    with pytest.raises(FeaturelensError, match="torchvision has no model 'tinynett'; close names: tinynet"):
        load_model("torchvision:tinynett")
    with pytest.raises(FeaturelensError, match="timm has no model"):
        load_model("timm:nothing")
