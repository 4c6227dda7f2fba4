"""Let torchvision's Python models import where its compiled detection kernels cannot load.

The torchvision release built for the pinned torch (0.28.0 for 2.13.0) comes from the package index as a CUDA
build; beside the CPU torch its kernel library fails to load, and torchvision then stops at import because it
registers shapes for `torchvision::nms` and `qnms` without checking that they exist. The classification models
featurelens loads never call those kernels, so declaring the two operators (without a kernel) lets them import;
calling one, as a detection model would, still fails loudly ("no kernel"). Nothing is declared when the library
loads, as it does with a matching build.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch

# What torchvision 0.28's import registers against before checking that its kernel library loaded.
UNCHECKED_OPERATORS = (
    "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
)
_declared: list[torch.library.Library] = []  # kept alive: a Library's definitions go with it


def prepare_torchvision_import() -> None:
    """Before `import torchvision`: when its kernel library will not load here, declare the operators its import needs."""
    if _declared or _kernels_load():
        return
    library = torch.library.Library("torchvision", "DEF")
    for schema in UNCHECKED_OPERATORS:
        library.define(schema)
    _declared.append(library)


def _kernels_load() -> bool:
    """Whether torchvision's kernel library loads beside this torch (True when torchvision is absent: nothing to do)."""
    found = importlib.util.find_spec("torchvision")
    if found is None or not found.submodule_search_locations:
        return True
    libraries = sorted(Path(next(iter(found.submodule_search_locations))).glob("_C*.so"))
    if not libraries:
        return True
    for library in libraries:
        try:
            torch.ops.load_library(str(library))
            return True
        except (ImportError, OSError):
            continue
    return False
