"""Faster copies of a model for inference-only jobs (the live grid), each checked to give the model's own activations.

- `fold_batchnorm`: each eval-mode BatchNorm folded into the convolution that feeds it, about 20 % of a CPU
  forward. The copy is traced with torch.fx; the kept layers stay whole modules (their hooks fire as in the
  original) and nothing inside or at them is folded.
- `forward_to`: a folded copy cut at a layer, run eagerly: the layer's output with no hooks and nothing after
  the layer. It replaces a TorchScript freeze of the same cut (deprecated in torch 2.13): folding was most of what
  that bought, and the live page runs as fast without it. TorchScript ran no Python between operations, so it
  slowed less beside a thread that runs Python without pause (34 against 58 ms a frame); the server's event loop
  mostly waits. torch.export ran no faster than eager, torch.compile took 40 s before its first frame
  (benchmarks/RESULTS.md, live).

Any model that cannot be traced, runs hooks of its own, or whose copy disagrees with it on a checking input, is used
as it is.
"""

from __future__ import annotations

import copy
from typing import Iterable

import torch
import torch.fx as fx
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from featurelens.capture.activations import capture_activations

_TOLERANCE = 1e-3  # largest difference allowed, relative to the largest activation


class _KeepLayersTracer(fx.Tracer):
    """Traces through a model's own blocks, stopping at torch's modules, at every convolution (custom
    convolutions such as Conv2dSame compute their padding from the input's size) and at the kept layers."""

    def __init__(self, keep: set[str]):
        super().__init__()
        self.keep = keep

    def is_leaf_module(self, module: nn.Module, qualified_name: str) -> bool:
        return qualified_name in self.keep or isinstance(module, nn.Conv2d) or super().is_leaf_module(module, qualified_name)


def fold_batchnorm(module: nn.Module, keep: Iterable[str], check_input: torch.Tensor, check_layers: Iterable[str] = ()) -> nn.Module:
    """A folded copy of `module` that gives the activations of `keep` (and of `check_layers`, e.g. the logit)
    within 1e-3 of the original on `check_input`; `module` itself when folding is not possible or not exact."""
    kept = set(keep)
    if module.training or not any(isinstance(m, nn.BatchNorm2d) for m in module.modules()) or _hooked(module):
        return module
    try:
        graph_module = fx.GraphModule(copy.deepcopy(module), _KeepLayersTracer(kept).trace(module))
    except Exception:  # noqa: BLE001 — fx cannot trace this model (data-dependent control flow, …): run it unfolded
        return module
    if not _fold_pairs(graph_module, kept):
        return module
    layers = list(dict.fromkeys([*kept, *check_layers]))
    with torch.no_grad():
        expected = capture_activations(module, check_input, layers, stop_early=False)
        found = capture_activations(graph_module, check_input, layers, stop_early=False)
    return graph_module if all(_close(found[name], expected[name]) for name in layers) else module


def _hooked(module: nn.Module) -> bool:
    """Whether hooks of its own run in `module` (attached dictionary features, a user's): a traced copy would not call them."""
    return any(m._forward_hooks or m._forward_pre_hooks or m._backward_hooks or m._backward_pre_hooks for m in module.modules())


def forward_to(graph_module: nn.Module, layer: str, check_input: torch.Tensor) -> fx.GraphModule | None:
    """A copy of `graph_module` (an fx copy, e.g. from `fold_batchnorm`) cut after `layer`: it returns `layer`'s output
    (its first call's, for a layer called twice); None when `layer` is not a node of the graph (it lies inside a leaf
    module) or the cut's output on `check_input` differs from the layer's activation in `graph_module`."""
    if not isinstance(graph_module, fx.GraphModule):
        return None
    node = next((n for n in graph_module.graph.nodes if n.op == "call_module" and n.target == layer), None)
    if node is None:
        return None
    graph, copied = fx.Graph(), {}
    graph.graph_copy(graph_module.graph, copied)
    graph.output(copied[node])
    cut = fx.GraphModule(graph_module, graph)
    cut.graph.eliminate_dead_code()
    cut.delete_all_unused_submodules()
    cut.recompile()
    cut = copy.deepcopy(cut)  # its own modules: hooks a caller keeps on `graph_module` must not fire in the cut
    with torch.no_grad():
        expected = capture_activations(graph_module, check_input, [layer])[layer]
        same = _close(cut.eval()(check_input), expected)
    return cut if same else None


def _close(found: torch.Tensor, expected: torch.Tensor) -> bool:
    scale = max(float(expected.abs().max()), 1.0)
    return found.shape == expected.shape and float((found - expected).abs().max()) <= _TOLERANCE * scale


def _fold_pairs(graph_module: fx.GraphModule, kept: set[str]) -> int:
    """Fold every convolution → eval BatchNorm2d pair whose convolution feeds nothing else; returns how many."""
    modules = dict(graph_module.named_modules())
    folded = 0
    for node in list(graph_module.graph.nodes):
        norm = modules.get(node.target) if node.op == "call_module" else None
        source = node.args[0] if node.args else None
        if not isinstance(norm, nn.BatchNorm2d) or not isinstance(source, fx.Node) or source.op != "call_module":
            continue
        conv = modules.get(source.target)
        if (not isinstance(conv, nn.Conv2d) or len(source.users) != 1 or norm.running_var is None
                or node.target in kept or source.target in kept or len(node.args) != 1 or node.kwargs):
            continue
        parent, _, name = source.target.rpartition(".")
        setattr(graph_module.get_submodule(parent), name, fuse_conv_bn_eval(conv, norm))
        node.replace_all_uses_with(source)
        graph_module.graph.erase_node(node)
        folded += 1
    graph_module.graph.lint()
    graph_module.recompile()
    return folded
