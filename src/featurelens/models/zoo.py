"""Models from the torchvision and timm zoos, pretrained by default, as those libraries give them.

`torchvision:NAME` and `timm:NAME` load the library's default pretrained weights through the
library's own download cache; `:random` asks for random weights; `:FILE.pth` loads a file. When
the weights are neither cached nor downloadable, the error says where the cache is and what else
to do, in one line.
"""

from __future__ import annotations

import difflib
import importlib
import os
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlparse

import torch
from torch import nn

from featurelens.errors import FeaturelensError
from featurelens.models.torchvision_kernels import prepare_torchvision_import
from featurelens.models.loaded import IMAGENET_MEAN, IMAGENET_STD, LoadedModel, imagenet_class_names
from featurelens.models.user_files import load_weights

RANDOM = "random"
# What a failed download or a damaged cache file raises, across urllib, requests, huggingface_hub and torch.load.
_FETCH_ERRORS = (OSError, RuntimeError, ValueError, EOFError)


def split_spec(spec: str) -> tuple[str, str | None]:
    """`zoo:NAME[:WEIGHTS]` → (NAME, WEIGHTS or None)."""
    _, _, rest = spec.partition(":")
    name, _, weights = rest.partition(":")
    return name, (weights or None)


def require(package: str, spec: str) -> Any:
    """Import an optional zoo package (timm imports torchvision), or say how to install it."""
    prepare_torchvision_import()
    try:
        return importlib.import_module(package)
    except ImportError:
        raise FeaturelensError(f"model {spec!r} needs the {package} package: pip install 'featurelens[{package}]'") from None
    except RuntimeError as err:  # a torchvision built for another torch
        raise FeaturelensError(
            f"model {spec!r}: {package} does not load beside torch {torch.__version__} ({_first_line(err)}): "
            f"install the torchvision built for it, e.g. pip install 'featurelens[{package}]'"
        ) from None


def create(zoo: str, name: str, build: Callable[[str], nn.Module], known: Callable[[], list[str]]) -> nn.Module:
    """Build `name` with `build`; an unknown name lists the zoo's close names."""
    if name not in set(known()):
        close = difflib.get_close_matches(name, known(), n=3)
        raise FeaturelensError(f"{zoo} has no model {name!r}; close names: {', '.join(close) or 'none'}")
    return build(name)


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


def _not_available(spec: str, cache: str, err: BaseException) -> FeaturelensError:
    return FeaturelensError(
        f"pretrained weights of {spec!r} are not in the cache ({cache}) and could not be downloaded ({_first_line(err)}): "
        f"download them once with network access, or use {spec}:random for random weights, or {spec}:FILE.pth for your own"
    )


def torchvision_cache_file(models: Any, name: str) -> str:
    """Where torchvision keeps `name`'s default weights: torch hub's checkpoints folder."""
    folder = Path(torch.hub.get_dir()) / "checkpoints"
    try:
        url = models.get_model_weights(name).DEFAULT.url
    except (AttributeError, ValueError, KeyError):
        return str(folder)
    return str(folder / os.path.basename(urlparse(url).path))


def load_torchvision(spec: str) -> LoadedModel:
    name, weights = split_spec(spec)
    models = require("torchvision", spec).models
    if weights is None:
        try:
            module = create("torchvision", name, lambda n: models.get_model(n, weights="DEFAULT"), models.list_models)
        except _FETCH_ERRORS as err:
            raise _not_available(spec, torchvision_cache_file(models, name), err) from None
    else:
        module = create("torchvision", name, lambda n: models.get_model(n, weights=None), models.list_models)
        if weights != RANDOM:
            load_weights(module, weights, spec)
    size, mean, std = _torchvision_preprocessing(models, name)
    classes = imagenet_class_names() if _classes(module) == 1000 else None
    return LoadedModel(module, spec, size, 3, mean, std, classes, min_size=32)


def _torchvision_preprocessing(models: Any, name: str) -> tuple[int, tuple, tuple]:
    """Input size and normalisation of the default weights' transforms (ImageNet's at 224 when unknown)."""
    try:
        preset = models.get_model_weights(name).DEFAULT.transforms()
        return int(preset.crop_size[0]), tuple(preset.mean), tuple(preset.std)
    except (AttributeError, ValueError, KeyError, TypeError, IndexError):
        return 224, IMAGENET_MEAN, IMAGENET_STD


def load_timm(spec: str) -> LoadedModel:
    name, weights = split_spec(spec)
    timm = require("timm", spec)
    pretrained = weights is None
    try:
        module = create("timm", name, lambda n: timm.create_model(n, pretrained=pretrained), timm.list_models)
    except _FETCH_ERRORS as err:
        if not pretrained:
            raise
        raise _not_available(spec, _timm_cache(), err) from None
    if weights not in (None, RANDOM):
        load_weights(module, weights, spec)
    config = timm.data.resolve_data_config({}, model=module)
    classes = imagenet_class_names() if _classes(module) == 1000 else None
    size = int(config["input_size"][-1])
    return LoadedModel(module, spec, size, int(config["input_size"][0]), tuple(config["mean"]), tuple(config["std"]), classes, 32)


def _timm_cache() -> str:
    """timm downloads through the Hugging Face hub (or torch hub for older weights)."""
    try:
        from huggingface_hub import constants

        return f"{constants.HF_HUB_CACHE} or {Path(torch.hub.get_dir()) / 'checkpoints'}"
    except ImportError:
        return str(Path(torch.hub.get_dir()) / "checkpoints")


def _classes(module: nn.Module) -> int:
    """How many classes the module outputs, when it says (timm's num_classes, or the last Linear)."""
    count = getattr(module, "num_classes", None)
    if isinstance(count, int):
        return count
    last = [m for m in module.modules() if isinstance(m, nn.Linear)]
    return last[-1].out_features if last else 0
