"""Models from the user's own files: `file.py:factory[:weights]` and TorchScript, plus weight files for any module."""

from __future__ import annotations

import difflib
import importlib.util
from pathlib import Path

import torch
from torch import nn

from featurelens.errors import FeaturelensError
from featurelens.models.loaded import LoadedModel


def load_weights(module: nn.Module, weights: str, spec: str) -> None:
    """Load a state-dict file strictly into `module`; a missing or ill-fitting file is a one-line error."""
    path = Path(weights).expanduser()
    if not path.is_file():
        raise FeaturelensError(f"weights file {weights!r} of model {spec!r} not found: check the path")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        if isinstance(state, dict) and "state_dict" in state:
            state = state["state_dict"]
        module.load_state_dict(state, strict=True)
    except (RuntimeError, ValueError, OSError, AttributeError) as err:
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise FeaturelensError(f"weights {weights!r} do not fit model {spec!r}: {first_line}") from None


def load_python_file(spec: str) -> LoadedModel:
    """`file.py:factory[:weights]`: factory() returns an nn.Module (optionally with input_size/mean/std/class_names) or a LoadedModel."""
    file_part, _, rest = spec.partition(".py")
    path = Path(file_part + ".py")
    factory_name, _, weights = rest.lstrip(":").partition(":")
    if not path.is_file():
        raise FeaturelensError(f"model file {str(path)!r} not found: give an existing path/to/file.py:factory")
    if not factory_name:
        raise FeaturelensError(f"model spec {spec!r} names no factory: write {path}:FUNCTION_NAME")
    module_spec = importlib.util.spec_from_file_location(f"featurelens_user_{path.stem}", path)
    user_module = importlib.util.module_from_spec(module_spec)
    try:
        module_spec.loader.exec_module(user_module)
    except Exception as err:  # the user's file is theirs; report, don't crash
        raise FeaturelensError(f"could not import {str(path)!r}: {type(err).__name__}: {err}") from None
    factory = getattr(user_module, factory_name, None)
    if not callable(factory):
        names = [n for n in dir(user_module) if callable(getattr(user_module, n)) and not n.startswith("_")]
        close = difflib.get_close_matches(factory_name, names, n=3)
        raise FeaturelensError(f"{path} has no factory {factory_name!r}; close names: {', '.join(close) or ', '.join(names[:5])}")
    built = factory()
    if isinstance(built, LoadedModel):
        return built
    if not isinstance(built, nn.Module):
        raise FeaturelensError(f"{path}:{factory_name}() returned {type(built).__name__}, expected a torch.nn.Module")
    if weights:
        load_weights(built, weights, spec)
    return describe_module(built, spec)


def describe_module(module: nn.Module, spec: str) -> LoadedModel:
    """A `LoadedModel` from a plain module, reading optional attributes (input_size, mean, std, class_names, dream_layer)."""
    first_conv = next((m for m in module.modules() if isinstance(m, nn.Conv2d)), None)
    in_channels = int(getattr(module, "in_channels", first_conv.in_channels if first_conv else 3))
    return LoadedModel(
        module,
        spec,
        int(getattr(module, "input_size", 224)),
        in_channels,
        tuple(getattr(module, "mean", (0.0,) * in_channels)),
        tuple(getattr(module, "std", (1.0,) * in_channels)),
        getattr(module, "class_names", None),
        int(getattr(module, "min_size", 16)),
        dream_layer=getattr(module, "dream_layer", None),
    )


def load_torchscript(spec: str) -> LoadedModel:
    path = Path(spec).expanduser()
    if not path.is_file():
        raise FeaturelensError(f"model file {spec!r} not found: give a built-in name or an existing file")
    try:
        module = torch.jit.load(str(path), map_location="cpu")
    except (RuntimeError, ValueError) as err:
        raise FeaturelensError(f"{spec!r} is not a TorchScript file ({str(err).splitlines()[0]}); save with torch.jit.save") from None
    return describe_module(module, spec)
