"""`torchvision:` and `timm:` specs resolve through the same registry (checked with stand-in zoos,
since neither package imports beside the CPU torch build this project tests on)."""

import sys
import types

import pytest
import torch
from torch import nn

from featurelens import load_model
from featurelens.errors import FeaturelensError


class TinyNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.fc = nn.Linear(4, 1000)
        self.num_classes = 1000

    def forward(self, x):
        return self.fc(self.conv(x).mean((2, 3)))


@pytest.fixture
def fake_zoos(monkeypatch):
    def get_model(name, weights=None):
        if name != "tinynet":
            raise ValueError(name)
        return TinyNet()

    torchvision = types.ModuleType("torchvision")
    torchvision.models = types.SimpleNamespace(get_model=get_model, list_models=lambda: ["tinynet", "resnet18"])
    timm = types.ModuleType("timm")
    timm.create_model = lambda name, pretrained=False: get_model(name.replace("timm_", ""))
    timm.list_models = lambda: ["timm_tinynet"]
    timm.data = types.SimpleNamespace(resolve_data_config=lambda cfg, model: {"input_size": (3, 96, 96), "mean": (0.5,) * 3, "std": (0.25,) * 3})
    monkeypatch.setitem(sys.modules, "torchvision", torchvision)
    monkeypatch.setitem(sys.modules, "timm", timm)


def test_torchvision_spec_with_weights_file(fake_zoos, tmp_path):
    weights = tmp_path / "tiny.pth"
    state = {k: torch.full_like(v, 0.5) for k, v in TinyNet().state_dict().items()}
    torch.save(state, weights)
    model = load_model(f"torchvision:tinynet:{weights}")
    assert model.input_size == 224 and len(model.class_names) == 1000
    assert torch.equal(model.module.conv.weight, torch.full((4, 3, 3, 3), 0.5))
    with pytest.raises(FeaturelensError, match="torchvision has no model 'tinynett'; close names: tinynet"):
        load_model("torchvision:tinynett")


def test_timm_spec_takes_its_data_config(fake_zoos):
    model = load_model("timm:timm_tinynet")
    assert model.input_size == 96 and model.mean == (0.5, 0.5, 0.5) and model.std == (0.25, 0.25, 0.25)
    with pytest.raises(FeaturelensError, match="timm has no model"):
        load_model("timm:nothing")
