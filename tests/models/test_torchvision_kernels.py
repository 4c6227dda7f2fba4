"""torchvision beside the pinned CPU torch: its release for torch 2.13.0 is a CUDA build whose kernel library cannot
load here; its classification models still import and run, a detection kernel still fails loudly, and a torchvision
that does not load at all is one line naming the fix."""

from __future__ import annotations

import importlib.util

import pytest
import torch

from featurelens.errors import FeaturelensError
from featurelens.models import torchvision_kernels, zoo


def test_torchvision_models_import_and_run_while_detection_kernels_fail_loudly() -> None:
    if importlib.util.find_spec("torchvision") is None:
        pytest.skip("pip install 'featurelens[torchvision]'")
    models = zoo.require("torchvision", "torchvision:resnet18").models
    logits = models.get_model("resnet18", weights=None).eval()(torch.rand(1, 3, 64, 64))
    assert logits.shape == (1, 1000) and torch.isfinite(logits).all()
    boxes, scores = torch.tensor([[0.0, 0.0, 1.0, 1.0]]), torch.tensor([1.0])
    if torchvision_kernels._declared:  # declared without a kernel: calling it fails, never a silent answer
        with pytest.raises((RuntimeError, NotImplementedError), match="nms"):
            torch.ops.torchvision.nms(boxes, scores, 0.5)
    else:  # a torchvision whose kernels load here (a matching build) answers for real
        assert torch.ops.torchvision.nms(boxes, scores, 0.5).tolist() == [0]


def test_a_torchvision_that_does_not_load_is_one_line(monkeypatch) -> None:
    def broken(name):
        raise RuntimeError("operator torchvision::nms does not exist\nmore lines")

    monkeypatch.setattr(zoo.importlib, "import_module", broken)
    with pytest.raises(FeaturelensError) as raised:
        zoo.load_torchvision("torchvision:resnet18:random")
    message = str(raised.value)
    assert "\n" not in message
    assert message == (f"model 'torchvision:resnet18:random': torchvision does not load beside torch {torch.__version__} "
                       "(operator torchvision::nms does not exist): install the torchvision built for it, "
                       "e.g. pip install 'featurelens[torchvision]'")
