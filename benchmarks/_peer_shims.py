"""Benchmark-only shims so peers install without their heavy optional imports.

Lucent imports torchvision only for `transforms.Normalize` (a per-channel affine map); torchvision
does not import beside the CPU torch build used here, so a minimal stand-in is registered before
Lucent is imported; IPython is only used by Lucent to display images in notebooks. Nothing in featurelens uses this.
"""

from __future__ import annotations

import sys
import types

import torch


def install_lucent_stubs() -> None:
    """Register stand-ins for torchvision.transforms.Normalize and IPython.display (display only)."""
    for name in ("IPython", "IPython.display"):
        sys.modules.setdefault(name, types.ModuleType(name))
    sys.modules["IPython"].display = sys.modules["IPython.display"]
    if "torchvision" in sys.modules:
        return

    class Normalize(torch.nn.Module):
        def __init__(self, mean, std):
            super().__init__()
            self.mean = torch.tensor(mean).view(-1, 1, 1)
            self.std = torch.tensor(std).view(-1, 1, 1)

        def forward(self, x):
            return (x - self.mean.to(x)) / self.std.to(x)

    torchvision = types.ModuleType("torchvision")
    transforms = types.ModuleType("torchvision.transforms")
    transforms.Normalize = Normalize
    torchvision.transforms = transforms
    sys.modules["torchvision"] = torchvision
    sys.modules["torchvision.transforms"] = transforms
