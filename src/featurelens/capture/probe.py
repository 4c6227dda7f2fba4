"""One dry-run forward per model and input size, shared by every technique that needs layer shapes.

`probe(model, size)` runs the model once on a grey image and records, for every named submodule,
its type and output shape (in the order the forward pass enters them), and for every call that maps
a 4-D tensor to a 4-D tensor its input and output height × width (in the order calls finish), which
is what receptive-field and tile geometry walk. Results are cached on the model per input size.

A model that cannot run to its end at some size (a classifier head sized for one input) still
probes: the layers before the failure are recorded and `error` says what stopped it, so a job that
needs only those layers (a render of an early layer at another size) goes ahead.
"""

from __future__ import annotations

import re
import weakref
from dataclasses import dataclass

import torch
from torch import nn

from featurelens.capture.attention import is_attention, watch_heads
from featurelens.capture.layers import LOGIT, LayerInfo
from featurelens.capture.layout import Layout, infer_layout, layout_overrides, size_hints
from featurelens.errors import FeaturelensError


@dataclass(frozen=True)
class SpatialCall:
    """One finished module call on images: module name, input and output (height, width)."""

    name: str
    input_hw: tuple[int, int]
    output_hw: tuple[int, int]


@dataclass(frozen=True)
class Probe:
    """What one forward at `size` showed: the hookable layers and the spatial calls in finishing order."""

    size: tuple[int, int]
    layers: tuple[LayerInfo, ...]
    calls: tuple[SpatialCall, ...]
    error: str | None = None  # first line of what stopped the forward early, if anything did
    names: frozenset[str] = frozenset()  # every named submodule, run or not


    def shapes(self) -> dict[str, tuple[int, ...]]:
        """{layer: output shape without the batch}, the logit included when the forward ran to its end."""
        return {info.name: info.shape for info in self.layers}

    def unreachable(self, layer: str, spec: str) -> str | None:
        """Why `layer` has no shape here when the forward stopped before it, else None."""
        if self.error is None or layer in self.shapes() or (layer not in self.names and layer != LOGIT):
            return None
        height, width = self.size
        return f"model {spec!r} cannot run up to {layer!r} on {height}×{width} inputs: {self.error}"

    def layer(self, name: str) -> LayerInfo | None:
        return next((info for info in self.layers if info.name == name), None)


class _Enough(Exception):
    """Raised from a probe's hook once every layer it was asked for has been seen."""


def probe_module(module: nn.Module, example: torch.Tensor, until: frozenset[str] = frozenset()) -> Probe:
    """Run `module` once on `example` (already normalised) with hooks on every named submodule (`until`: stop once
    these layers have run, as a capture of them stops).

    Calls are recorded on 2-D maps ([B, C, H, W] in and out), and for a spectrogram example ([B, bands, frames])
    on 1-D maps ([B, C, T] in and out) as one row: (1, T)."""
    order: list[str] = []
    types: dict[str, str] = {}
    layouts: dict[str, Layout] = {}
    hints, overrides, input_shape = size_hints(module), layout_overrides(module), tuple(example.shape[1:])
    calls: list[SpatialCall] = []
    handles = []
    sequences = example.dim() == 3  # a spectrogram [B, bands, frames]: its maps run along time only

    def on_enter(name: str):
        def hook(mod, args):
            if name not in types:
                order.append(name)
                types[name] = type(mod).__name__
        return hook

    made: dict[int, tuple[torch.Tensor, Layout]] = {}  # id(output) → (output, its layout): kept alive for the forward

    def record(name: str, mod: nn.Module, output: torch.Tensor, source: object = None) -> None:
        if name in layouts:
            return
        inherited = made.get(id(source)) if isinstance(source, torch.Tensor) and source.shape == output.shape else None
        if name not in overrides and inherited is not None and inherited[0] is source:
            layouts[name] = inherited[1]  # a shape-keeping layer (activation, norm, dropout) reads as its input does
        else:
            layouts[name] = infer_layout(tuple(output.shape[1:]), mod, hints, input_shape, overrides.get(name))
        made[id(output)] = (output, layouts[name])
        if until and until <= layouts.keys():
            raise _Enough

    def on_exit(name: str):
        def hook(mod, args, output):
            if not isinstance(output, torch.Tensor):
                return
            record(name, mod, output, args[0] if args else None)
            first = args[0] if args and isinstance(args[0], torch.Tensor) else None
            if first is not None and first.dim() == 4 and output.dim() == 4:
                calls.append(SpatialCall(name, tuple(first.shape[-2:]), tuple(output.shape[-2:])))
            elif sequences and first is not None and first.dim() == 3 and output.dim() == 3:  # [B, C, T]: one row
                calls.append(SpatialCall(name, (1, first.shape[-1]), (1, output.shape[-1])))
        return hook

    output, error = None, None
    try:
        for name, sub in module.named_modules():
            if name and not isinstance(sub, torch.jit.ScriptModule):  # scripted code takes no Python hooks
                handles.append(sub.register_forward_pre_hook(on_enter(name)))
                if is_attention(sub):  # its heads are its features (capture.attention)
                    handles.extend(watch_heads(sub, lambda mod, norms, name=name: record(name, mod, norms)))
                else:
                    handles.append(sub.register_forward_hook(on_exit(name)))
        with torch.no_grad():
            output = module(example)
    except _Enough:
        pass
    except (RuntimeError, ValueError) as err:  # e.g. a head sized for another input: keep what ran
        error = (str(err).strip().splitlines() or [type(err).__name__])[0]
    finally:
        for handle in handles:
            handle.remove()
    layers = [LayerInfo(name, types[name], layouts[name].canonical_shape, layouts[name]) for name in order if name in layouts]
    if isinstance(output, torch.Tensor):
        record(LOGIT, None, output, output)
        layers.append(LayerInfo(LOGIT, "output", layouts[LOGIT].canonical_shape, layouts[LOGIT]))
    _remember(module, input_shape, overrides, layouts, complete=not until)
    names = frozenset(name for name, _ in module.named_modules() if name)
    size = (1, example.shape[-1]) if sequences else tuple(example.shape[-2:])
    return Probe(size, tuple(layers), tuple(calls), error, names)


# Layouts a probe found, per module and input shape (and the overrides then set): captures read layers as the probe did.
_LAYOUTS: "weakref.WeakKeyDictionary[nn.Module, dict[tuple, dict[str, Layout]]]" = weakref.WeakKeyDictionary()


def _remember(module: nn.Module, input_shape: tuple[int, ...], overrides, layouts: dict[str, Layout], complete: bool) -> None:
    try:
        known = _LAYOUTS.setdefault(module, {}).setdefault((input_shape, tuple(sorted(overrides.items()))), {})
    except TypeError:  # a module that cannot be weakly referenced: probed again next time
        return
    known.update(layouts)
    if complete:
        known[_COMPLETE] = None


_COMPLETE = "\0complete"  # marks a memo made by a whole forward


def layer_layouts(module: nn.Module, inputs: torch.Tensor, layers: list[str] | None = None) -> dict[str, Layout]:
    """The layouts of `layers` (None: every layer) for inputs shaped like `inputs` (normalised, batch first): the
    probe's, probing once per module and input shape, only as far as those layers when named (a capture stops
    there too), so a capture and `featurelens layers` always read a layer alike."""
    input_shape = tuple(inputs.shape[1:])
    key = (input_shape, tuple(sorted(layout_overrides(module).items())))
    found = _LAYOUTS.get(module, {}).get(key, {})
    wanted = frozenset(layers) if layers is not None and LOGIT not in layers else frozenset()
    if _COMPLETE not in found and (not wanted or not wanted <= found.keys()):
        probe_module(module, inputs[:1].detach(), until=wanted)
        found = _LAYOUTS.get(module, {}).get(key, {})
    return found


def lowest_values(module: nn.Module, inputs: torch.Tensor) -> dict[str, float]:
    """Each named submodule's lowest output value on `inputs` (one forward, no gradients): which layers go below zero.

    Taken as each module returns, before a later in-place call (a ReLU after a convolution) can change it."""
    lowest: dict[str, float] = {}
    handles = []

    def on_exit(name: str):
        def hook(mod, args, output):
            if isinstance(output, torch.Tensor) and output.numel() and output.is_floating_point():
                lowest[name] = min(lowest.get(name, float("inf")), float(output.detach().amin()))
        return hook

    try:
        for name, sub in module.named_modules():
            if name and not isinstance(sub, torch.jit.ScriptModule):
                handles.append(sub.register_forward_hook(on_exit(name)))
        with torch.no_grad():
            module(inputs)
    finally:
        for handle in handles:
            handle.remove()
    return lowest


def list_layers(module: nn.Module, example: torch.Tensor) -> list[LayerInfo]:
    """Every named submodule that returns a tensor, in the order the forward pass enters them (one dry run)."""
    return list(probe_module(module, example).layers)


def probe(model, size: int | tuple[int, int] | None = None) -> Probe:
    """The cached probe of a `LoadedModel` at `size` (default: its input size); one-line error if no layer runs there."""
    height, width = model.input_pair(size)
    key = (id(model.module), height, width)  # copies of a model may swap their module
    cache = model.probes
    if key not in cache:
        found = probe_module(model.module, model.dry_run_input(height, width))
        if not found.layers:
            raise FeaturelensError(f"model {model.spec!r} cannot run on {height}×{width} inputs: {found.error}")
        cache[key] = found
    return cache[key]


def mid_layer(model) -> str:
    """A mid-network layer to look at first: the model's own (`dream_layer`), else the middle block of its spatial layers."""
    layers = probe(model).layers
    if model.dream_layer in {info.name for info in layers}:
        return model.dream_layer
    spatial = [info.name for info in layers if len(info.shape) == 3 and min(info.shape[1:]) >= 2]
    if not spatial:
        raise FeaturelensError(f"model {model.spec!r} has no layer with a spatial map: name a layer")
    blocks = [name for name in spatial if re.fullmatch(r"[^.]+\.\d+", name)] or [n for n in spatial if "." not in n] or spatial
    return blocks[round(0.53 * (len(blocks) - 1))]


def forget_layouts(module: nn.Module) -> None:
    """Drop the layouts remembered for `module` (its layers changed: a dictionary was attached)."""
    _LAYOUTS.pop(module, None)
