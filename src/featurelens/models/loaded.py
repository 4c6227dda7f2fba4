"""`LoadedModel`: a network plus what featurelens needs to feed it (input size, channels, normalisation, classes)."""

from __future__ import annotations

import difflib
import hashlib
from dataclasses import dataclass, field
from importlib import resources

import torch
from torch import nn

from featurelens.errors import FeaturelensError
from featurelens.audio.input import AudioInput
from featurelens.models.modality import ImageModality, Modality


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
    modality: Modality = field(default_factory=ImageModality)  # images, or sound through a front end (`input_size`: frames)
    data: str | None = None  # the data source its renders are held against (its test set), when it names one
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
        self.modality.to(device)
        return self

    @property
    def audio(self) -> AudioInput | None:
        """An audio model's front end and conventions (`modality.sound`); None for an image model."""
        return self.modality.sound

    def require_images(self, technique: str) -> "LoadedModel":
        """This model, or a one-line error when it is an audio model and `technique` works on images only."""
        if self.modality.name != "image":
            raise FeaturelensError(f"{technique} works on image models, and {self.spec!r} takes sound: explore it with "
                                   "`featurelens examples` and `featurelens render`")
        return self

    def input_pair(self, size: int | tuple[int, int] | None = None) -> tuple[int, int]:
        """(height, width) of the module's input at `size` (default: the model's): images are square;
        an audio model's input is `size` frames wide (one row for networks that convolve over time only)."""
        if isinstance(size, tuple):
            return int(size[0]), int(size[1])
        return self.modality.input_pair(int(size if size is not None else self.input_size))

    def size_label(self, size: int | None = None) -> str:
        """An input size as people say it: "224×224", or "188 frames (3.01 s)" for an audio model."""
        return self.modality.size_label(*self.input_pair(size))

    def dry_run_input(self, height: int, width: int) -> torch.Tensor:
        """What one dry run feeds the module at this size (normalised): a grey image, or a quiet spectrogram."""
        return self.normalize(self.modality.dry_run_input(height, width, self.in_channels, self.device))

    def normalize(self, images: torch.Tensor) -> torch.Tensor:
        """Map [0, 1] images to the model's input space (an audio model's spectrogram passes as it is)."""
        if not self.modality.normalizes:
            return images
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

    def unit_label(self, layer: str, channel: int) -> str | None:
        """What a unit stands for, when the model says: a logit's class name (torchcrepe: its pitch in Hz), else None."""
        return self.class_label(channel) if layer == "logit" and self.class_names else None


def weights_digest(module: nn.Module) -> str:
    """SHA-1 of every tensor of the module's state dict and its other buffers (names and bytes: a dictionary's
    features are buffers kept out of the state dict): equal digests, equal weights."""
    digest = hashlib.sha1()
    tensors = dict(module.state_dict())
    tensors.update((name, buffer) for name, buffer in module.named_buffers() if name not in tensors)
    with torch.no_grad():
        for name, tensor in tensors.items():
            digest.update(name.encode())
            digest.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def imagenet_class_names() -> list[str]:
    """The 1000 ImageNet-1k class names shipped with the package, each a comma-separated synonym list."""
    text = resources.files("featurelens.models").joinpath("imagenet_classes.txt").read_text()
    return text.splitlines()


IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
