"""`LoadedModel`: a network plus what featurelens needs to feed it (input size, channels, normalisation, classes)."""

from __future__ import annotations

import difflib
import hashlib
from dataclasses import dataclass, field
from importlib import resources

import torch
from torch import nn

from featurelens.errors import FeaturelensError


@dataclass
class LoadedModel:
    """A model in eval mode with what featurelens needs to know about it. Images enter as [B, C, H, W] floats in [0, 1].

    Besides the input conventions, a model carries its own knowledge: class names, the layer
    DeepDream amplifies by default, inverters trained for its layers, and the checkpoints of its training.
    """

    module: nn.Module
    spec: str
    input_size: int
    in_channels: int = 3
    mean: tuple[float, ...] = (0.0, 0.0, 0.0)
    std: tuple[float, ...] = (1.0, 1.0, 1.0)
    class_names: list[str] | None = None
    min_size: int = 16
    dream_layer: str | None = None  # the layer DeepDream amplifies by default (None: a mid-network block)
    inverters: dict[str, str] = field(default_factory=dict)  # layer → trained inverter file shipped for it
    training_checkpoints: str | None = None  # folder of checkpoints saved while the weights were trained (`evolve`)
    probes: dict = field(default_factory=dict, repr=False)  # dry-run results per input size (capture.probe)
    _norm_cache: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.module.eval()
        for p in self.module.parameters():
            p.requires_grad_(False)

    @property
    def device(self) -> torch.device:
        first = next(self.module.parameters(), None)
        return first.device if first is not None else torch.device("cpu")

    def to(self, device: torch.device | str) -> "LoadedModel":
        self.module.to(device)
        return self

    def normalize(self, images: torch.Tensor) -> torch.Tensor:
        """Map [0, 1] images to the model's input space."""
        key = (images.device, images.dtype)
        if key not in self._norm_cache:
            with torch.inference_mode(False):  # a cache made under inference_mode would refuse later autograd use
                self._norm_cache[key] = self._norm_constants(images)
        mean, std = self._norm_cache[key]
        return (images - mean) / std

    def _norm_constants(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        shape = (1, self.in_channels, 1, 1)
        mean = torch.tensor(self.mean[: self.in_channels], dtype=images.dtype, device=images.device).view(shape)
        std = torch.tensor(self.std[: self.in_channels], dtype=images.dtype, device=images.device).view(shape)
        return mean, std

    def class_index(self, name: str) -> int:
        """Index of a class given by any of its comma-separated synonyms (case-insensitive)."""
        if not self.class_names:
            raise FeaturelensError(f"model {self.spec!r} has no class names: address the class by number, e.g. logit:3")
        wanted = name.strip().lower()
        synonyms = {}
        for index, names in enumerate(self.class_names):
            for synonym in names.split(","):
                synonyms.setdefault(synonym.strip().lower(), index)
        if wanted in synonyms:
            return synonyms[wanted]
        close = difflib.get_close_matches(wanted, list(synonyms), n=3)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise FeaturelensError(f"unknown class name {name!r} for model {self.spec!r}{hint}")

    def class_label(self, index: int) -> str:
        """Short display name of a class (its first synonym), or its number."""
        if self.class_names and 0 <= index < len(self.class_names):
            return self.class_names[index].split(",")[0].strip()
        return str(index)


def weights_digest(module: nn.Module) -> str:
    """SHA-1 of every tensor of the module's state dict (names and bytes): equal digests, equal weights."""
    digest = hashlib.sha1()
    with torch.no_grad():
        for name, tensor in module.state_dict().items():
            digest.update(name.encode())
            digest.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def imagenet_class_names() -> list[str]:
    """The 1000 ImageNet-1k class names shipped with the package, each a comma-separated synonym list."""
    text = resources.files("featurelens.models").joinpath("imagenet_classes.txt").read_text()
    return text.splitlines()


IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
