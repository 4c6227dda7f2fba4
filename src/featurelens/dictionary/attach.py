"""Dictionary features as a layer: `LAYER/NAME` reads the values of every feature of a dictionary over `LAYER`.

`attach_dictionary` adds a small module to the model under the name `LAYER/NAME` and calls it from a forward hook
on `LAYER` (the network's own output is left as it is). Its output is the features' values on the layer's canonical
positions `[N, F, *positions]`, a map like any conv layer's, so every technique that takes a layer or a channel
takes `LAYER/NAME` and `LAYER/NAME:f` — render, examples, project, dream, overview, atlas, evolve, live, Ray —
with no code of its own.
"""

from __future__ import annotations

import difflib
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Protocol, Sequence

import torch
from torch import nn

from featurelens.capture.layout import infer_layout, layer_layout, size_hints
from featurelens.capture.probe import forget_layouts
from featurelens.dictionary.file import Dictionary, load_dictionary
from featurelens.errors import FeaturelensError


class DictionaryFeatures(nn.Module):
    """The features' values (pre-activations, `Dictionary.unit_map`) at each position of the layer it reads.

    Its hooks are its own bound methods, so a copy of the model (`copy.deepcopy`, as the receptive-field walk and
    the projections make) calls the copy's features, not the original's."""

    featurelens_emits_canonical = True  # capture.layout.EMITS_CANONICAL: read as a map of its features

    def __init__(self, dictionary: Dictionary) -> None:
        super().__init__()
        weight, offset = dictionary.unit_map()
        # Not in the state dict: checkpoints of the model (evolve) load with the dictionary attached. The weights'
        # digest still counts them (`models.loaded.weights_digest`), so cached figures never mix dictionaries.
        self.register_buffer("weight", weight.detach().clone().float(), persistent=False)
        self.register_buffer("offset", offset.detach().clone().float(), persistent=False)
        self.layer = dictionary.layer
        self.dictionary = dictionary
        self._root_view: tuple = (None, ())  # (the root, its input shape) of the running forward
        self._handles: list = []

    def forward(self, positions: torch.Tensor) -> torch.Tensor:
        """`[N, C, *positions]` → `[N, F, *positions]`."""
        flat = positions.flatten(2) if positions.dim() > 2 else positions.unsqueeze(2)
        values = torch.einsum("fc,ncp->nfp", self.weight.to(flat.dtype), flat) + self.offset.to(flat.dtype)[:, None]
        return values.reshape(positions.shape[0], -1, *positions.shape[2:])

    def remember_input(self, root: nn.Module, args: tuple) -> None:
        """The root's forward pre-hook: what reading the layer's layout needs."""
        if args and isinstance(args[0], torch.Tensor):
            self._root_view = (root, tuple(args[0].shape[1:]))

    def read_layer(self, producer: nn.Module, args: tuple, output) -> None:
        """The layer's forward hook: run the features on its canonical positions (its own output unchanged)."""
        if not isinstance(output, torch.Tensor):
            return
        root, input_shape = self._root_view
        layout = layer_layout(root, self.layer, producer, tuple(output.shape[1:]), input_shape) if root is not None else \
            infer_layout(tuple(output.shape[1:]), producer, size_hints(producer), input_shape)
        positions, _ = layout.canonical(output)
        if positions.shape[1] != self.weight.shape[1]:
            raise FeaturelensError(f"dictionary {self.dictionary.address!r} has {self.weight.shape[1]} channels but layer {self.layer!r} "
                                   f"has {positions.shape[1]} here: it was learned on another model or layout")
        self(positions)


def attach_dictionary(module: nn.Module, dictionary: Dictionary | Path | str, features: type[DictionaryFeatures] = DictionaryFeatures) -> str:
    """Add `dictionary`'s features to `module` as the layer `LAYER/NAME`; returns that name. Attaching the same
    name again replaces the earlier dictionary. `features`: the module that computes them (a subclass may pool them)."""
    if not isinstance(dictionary, Dictionary):
        dictionary = load_dictionary(dictionary)
    modules = dict(module.named_modules())
    if dictionary.layer not in modules:
        close = difflib.get_close_matches(dictionary.layer, [name for name in modules if name], n=3)
        hint = f" (close: {', '.join(close)})" if close else ""
        raise FeaturelensError(f"dictionary {dictionary.address!r} reads layer {dictionary.layer!r}, which this model does not have{hint}: "
                               f"it was learned on {dictionary.model!r}")
    name = dictionary.address
    detach_dictionary(module, name)
    forget_layouts(module)
    added = features(dictionary).to(_device_of(module))
    module._modules[name] = added  # one name, dots and all (_blocks.8/dict): add_module refuses a dot
    added._handles = [module.register_forward_pre_hook(added.remember_input),
                      modules[dictionary.layer].register_forward_hook(added.read_layer)]
    return name


def detach_dictionary(module: nn.Module, name: str) -> None:
    """Remove the dictionary layer `name` (and its hooks) from `module`, when it has one."""
    found = dictionary_of(module, name)
    if found is not None:
        for handle in found._handles:
            handle.remove()
        del module._modules[name]


def dictionary_of(module: nn.Module, layer: str) -> DictionaryFeatures | None:
    """The dictionary features module named `layer` in `module`, or None when `layer` is an ordinary layer."""
    found = getattr(module, "_modules", {}).get(layer)
    return found if isinstance(found, DictionaryFeatures) else None


def attach_dictionaries(module: nn.Module, paths: Sequence[Path | str | Dictionary]) -> list[str]:
    """Attach every dictionary of `paths`; returns their layer names."""
    return [attach_dictionary(module, path) for path in paths]


class ProbedModel(Protocol):
    """What `attached` needs of a model (a `models.LoadedModel`): its module and its cached dry runs."""

    module: nn.Module
    probes: dict


@contextmanager
def attached(model: ProbedModel, dictionaries: Sequence[Path | str | Dictionary],
             features: type[DictionaryFeatures] = DictionaryFeatures) -> Iterator[list[str]]:
    """`dictionaries` attached to `model` for the block (their layer names yielded), then detached. The model's cached
    dry runs are dropped on the way in and out: its layers change."""
    names: list[str] = []
    try:
        for dictionary in dictionaries:
            names.append(attach_dictionary(model.module, dictionary, features))
        model.probes.clear()
        yield names
    finally:
        for name in names:
            detach_dictionary(model.module, name)
        model.probes.clear()


def _device_of(module: nn.Module) -> torch.device:
    first = next(module.parameters(), None)
    return first.device if first is not None else torch.device("cpu")
