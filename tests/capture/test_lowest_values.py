"""`lowest_values`: which layers go below zero, read as each module returns (before a later in-place call changes it)."""

import torch
from torch import nn

from featurelens.capture import lowest_values


def test_a_convolution_followed_by_an_in_place_relu_is_seen_below_zero_and_the_relu_not() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(inplace=True), nn.Conv2d(8, 4, 1), nn.ReLU6())
    inputs = torch.randn(2, 3, 8, 8)
    lowest = lowest_values(net, inputs)
    assert lowest["0"] < 0 and lowest["2"] < 0  # the in-place ReLU has not hidden the convolution's negatives
    assert lowest["1"] == 0 and lowest["3"] >= 0
    with torch.no_grad():
        assert lowest["0"] == float(net[0](inputs).min())
    assert not any(m._forward_hooks for m in net.modules())  # no hook left behind
