"""Device choice shared by every job: CUDA when present, else CPU, unless the user says otherwise."""

import torch

from featurelens.errors import FeaturelensError


def resolve_device(name: str | None = None) -> torch.device:
    """Return the requested device, or the best available one when `name` is None or 'auto'."""
    if name in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise FeaturelensError(f"unknown device {name!r}: use 'cpu', 'cuda' or 'cuda:N'") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise FeaturelensError(f"device {name!r} asked for but CUDA is not available: use --device cpu")
    return device
