"""Files shipped inside the package for the project's own models: trained weights and training checkpoints."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import torch
from torch import nn


def packaged(relative: str) -> str:
    """The path of a file or folder under `featurelens/models/` (e.g. `weights/fashion_cnn.pt`)."""
    return str(resources.files("featurelens.models").joinpath(relative))


def with_shipped_weights(model: nn.Module, relative: str) -> nn.Module:
    """`model` with the shipped state dict at `relative` loaded strictly, in eval mode."""
    with resources.as_file(resources.files("featurelens.models").joinpath(relative)) as path:
        state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)
    return model.eval()


def checkpoints_in(relative: str) -> list[Path]:
    """The training checkpoints shipped in folder `relative`, in training order (`stepNNNN.pt`: init first, the model last)."""
    return sorted(Path(packaged(relative)).glob("step*.pt"))
