"""Model specs resolved through one registry: built-in names, `torchvision:`, `timm:`, user `.py` files, TorchScript.

Spec forms:
  efficientnet-lite0 | efficientnet-lite1 | efficientnet-lite2 | fashion-cnn   built-in, weights bundled
  torchvision:NAME[:WEIGHTS.pth]                                               needs torchvision
  timm:NAME[:WEIGHTS]                                                          needs timm
  path/to/file.py:factory[:WEIGHTS]                                            the user's own nn.Module
  path/to/model.pt                                                             a saved TorchScript module
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from featurelens.errors import FeaturelensError
from featurelens.models.loaded import IMAGENET_MEAN, IMAGENET_STD, LoadedModel, imagenet_class_names

DEFAULT_MODEL = "efficientnet-lite0"

_BUILTINS: dict[str, Callable[[], LoadedModel]] = {}


def register_model(name: str) -> Callable[[Callable[[], LoadedModel]], Callable[[], LoadedModel]]:
    """Register a zero-argument factory under a spec name."""

    def decorate(factory: Callable[[], LoadedModel]) -> Callable[[], LoadedModel]:
        _BUILTINS[name] = factory
        return factory

    return decorate


def builtin_names() -> list[str]:
    _register_builtins()
    return sorted(_BUILTINS)


def load_model(spec: str = DEFAULT_MODEL, device: torch.device | str | None = None) -> LoadedModel:
    """Resolve a model spec to a `LoadedModel` in eval mode on `device` (CPU when None)."""
    _register_builtins()
    spec = spec.strip()
    if spec in _BUILTINS:
        model = _BUILTINS[spec]()
    elif spec.startswith("torchvision:"):
        model = _load_torchvision(spec)
    elif spec.startswith("timm:"):
        model = _load_timm(spec)
    elif ".py:" in spec or spec.endswith(".py"):
        model = _load_python_file(spec)
    elif Path(spec).suffix in (".pt", ".pth", ".ts", ".jit") or Path(spec).is_file():
        model = _load_torchscript(spec)
    else:
        close = difflib.get_close_matches(spec, list(_BUILTINS), n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        raise FeaturelensError(
            f"unknown model spec {spec!r}: {hint}use one of {', '.join(sorted(_BUILTINS))}, "
            "torchvision:NAME, timm:NAME, file.py:factory or a TorchScript file"
        )
    return model.to(device) if device is not None else model


def _split_spec(spec: str, prefix: str) -> tuple[str, str | None]:
    rest = spec[len(prefix):]
    name, _, weights = rest.partition(":")
    return name, (weights or None)


def _load_weights(module: nn.Module, weights: str | None, spec: str) -> None:
    if weights is None:
        return
    path = Path(weights)
    if not path.is_file():
        raise FeaturelensError(f"weights file {weights!r} of model {spec!r} not found: check the path")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        if isinstance(state, dict) and "state_dict" in state:
            state = state["state_dict"]
        module.load_state_dict(state, strict=True)
    except (RuntimeError, ValueError, OSError) as err:
        first_line = str(err).strip().splitlines()[0]
        raise FeaturelensError(f"weights {weights!r} do not fit model {spec!r}: {first_line}") from None


def _imagenet_model(module: nn.Module, spec: str, input_size: int = 224) -> LoadedModel:
    return LoadedModel(module, spec, input_size, 3, IMAGENET_MEAN, IMAGENET_STD, imagenet_class_names(), min_size=32)


def _require(package: str, spec: str):
    try:
        return importlib.import_module(package)
    except ImportError:
        raise FeaturelensError(
            f"model {spec!r} needs the {package} package: pip install 'featurelens[{package}]'"
        ) from None


def _create_from_zoo(zoo: str, name: str, create: Callable[[str], nn.Module], known: Callable[[], list[str]]) -> nn.Module:
    """Build `name` from a model zoo (random init: weights come from a file); unknown names list close ones."""
    try:
        return create(name)
    except (ValueError, RuntimeError, KeyError):
        close = difflib.get_close_matches(name, known(), n=3)
        raise FeaturelensError(f"{zoo} has no model {name!r}; close names: {', '.join(close) or 'none'}") from None


def _load_torchvision(spec: str) -> LoadedModel:
    name, weights = _split_spec(spec, "torchvision:")
    models = _require("torchvision", spec).models
    module = _create_from_zoo("torchvision", name, lambda n: models.get_model(n, weights=None), models.list_models)
    _load_weights(module, weights, spec)
    return _imagenet_model(module, spec)


def _load_timm(spec: str) -> LoadedModel:
    name, weights = _split_spec(spec, "timm:")
    timm = _require("timm", spec)
    module = _create_from_zoo("timm", name, lambda n: timm.create_model(n, pretrained=False), timm.list_models)
    _load_weights(module, weights, spec)
    config = timm.data.resolve_data_config({}, model=module)
    classes = imagenet_class_names() if getattr(module, "num_classes", 0) == 1000 else None
    size = int(config["input_size"][-1])
    return LoadedModel(module, spec, size, int(config["input_size"][0]), tuple(config["mean"]), tuple(config["std"]), classes, 32)


def _load_python_file(spec: str) -> LoadedModel:
    """`file.py:factory[:weights]`: factory() returns an nn.Module (optionally with input_size/mean/std/class_names)."""
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
    _load_weights(built, weights or None, spec)
    return _describe_user_module(built, spec)


def _describe_user_module(module: nn.Module, spec: str) -> LoadedModel:
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
    )


def _load_torchscript(spec: str) -> LoadedModel:
    path = Path(spec)
    if not path.is_file():
        raise FeaturelensError(f"model file {spec!r} not found: give a built-in name or an existing file")
    try:
        module = torch.jit.load(str(path), map_location="cpu")
    except (RuntimeError, ValueError) as err:
        raise FeaturelensError(f"{spec!r} is not a TorchScript file ({str(err).splitlines()[0]}); save with torch.jit.save") from None
    return _describe_user_module(module, spec)


_registered = False


def _register_builtins() -> None:
    """Import the built-in model modules once; each registers itself."""
    global _registered
    if _registered:
        return
    _registered = True
    from featurelens.models import builtin  # noqa: F401  (registers on import)
