"""Finding layers by name, and what a hookable layer is (`LayerInfo`)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from torch import nn

from featurelens.capture.layout import Layout
from featurelens.errors import FeaturelensError

LOGIT = "logit"  # the model's output, addressed like a layer


@dataclass(frozen=True)
class LayerInfo:
    """One hookable layer: its dotted module path, module type, canonical output shape (without the batch:
    features first, then positions; see `capture.layout`) and its layout (None: a plain `[C, …]` map)."""

    name: str
    type: str
    shape: tuple[int, ...]
    layout: Layout | None = None

    @property
    def channels(self) -> int:
        """The feature size: channels of a map, the token width of a transformer layer."""
        return self.shape[0] if self.shape else 1

    @property
    def raw_shape(self) -> tuple[int, ...]:
        """The output shape as the layer returns it (without the batch)."""
        return self.shape if self.layout is None else self.layout.raw_shape


def module_names(module: nn.Module) -> list[str]:
    return [name for name, _ in module.named_modules() if name]


def find_layer(module: nn.Module, name: str) -> nn.Module:
    """The submodule at dotted path `name`, or an error that lists the closest names."""
    modules = dict(module.named_modules())
    if name and name in modules:
        return modules[name]
    raise FeaturelensError(unknown_layer_message(name, module_names(module)))


def unknown_layer_message(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=4, cutoff=0.4)
    if not close:  # fall back to names sharing the typed prefix, e.g. "_blocks.5" → "_blocks.5._bn2"
        close = [k for k in known if k.startswith(name.split(".")[0])][:4]
    hint = f"; closest: {', '.join(close)}" if close else ""
    return f"unknown layer {name!r}{hint} (run `featurelens layers` for the full list)"
