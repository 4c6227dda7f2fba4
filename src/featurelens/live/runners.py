"""The live session's fast paths, made on a layer's first frame and kept for the last two layers.

For each layer: a BatchNorm-folded copy of the model with its hooks kept between frames (the classes and
"why this class"), and that copy cut at the layer, run eagerly (the grid). Both are checked
against the model on the first frame; where a model cannot be copied so, its frames run through hooks
on the model itself, added and removed each frame, so the user's model is never left hooked.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from featurelens.capture import LOGIT, ActivationCapture
from featurelens.capture.inference import fold_batchnorm, forward_to
from featurelens.capture.probe import layer_layouts
from featurelens.capture.memory_format import as_layout, use_channels_last

_KEPT_LAYERS = 2


@dataclass
class _LayerRunner:
    folded: nn.Module  # the folded copy, or the model itself when it could not be folded
    channels_last: bool
    cut: nn.Module | None = None  # the folded copy cut at the layer (the grid), None where it cannot be cut
    cut_tried: bool = False
    capture: ActivationCapture | None = None  # the hooks kept on the folded copy


class LayerRunners:
    """Runs a frame to a layer (the grid) or through the whole model (the classes), on copies made for speed."""

    def __init__(self, module: nn.Module, check_logits: bool):
        self.module = module
        self.check_layers = [LOGIT] if check_logits else []
        self._runners: dict[str, _LayerRunner] = {}

    def grid(self, layer: str, inputs: torch.Tensor) -> torch.Tensor:
        """`layer`'s activation for normalised `inputs`, without gradients."""
        runner = self._runner(layer, inputs)
        if not runner.cut_tried:
            runner.cut_tried = True
            runner.cut = forward_to(runner.folded, layer, as_layout(inputs, runner.channels_last))
        with torch.no_grad():
            if runner.cut is not None:  # the cut returns the layer as it is: read it in its canonical layout
                raw = runner.cut(as_layout(inputs, runner.channels_last))
                return layer_layouts(runner.folded, inputs, [layer])[layer].canonical(raw)[0]
            return self.capture(layer, False, inputs).run(inputs)[layer]

    def capture(self, layer: str, classes: bool, inputs: torch.Tensor) -> ActivationCapture:
        """Hooks that stop at `layer` (grid) or capture it as a leaf and go on to the logit (classes, "why")."""
        runner = self._runner(layer, inputs)
        layers = [layer, LOGIT] if classes else [layer]
        if runner.folded is self.module:  # the user's model: hooked for this frame only
            return _OneFrameCapture(self.module, layers, stop_early=not classes, leaves=[layer])
        if runner.capture is None or runner.capture.layers != layers:  # one set of hooks per copy at a time
            if runner.capture is not None:
                runner.capture.remove()
            runner.capture = ActivationCapture(runner.folded, layers, stop_early=not classes, leaves=[layer]).__enter__()
        return runner.capture

    def _runner(self, layer: str, inputs: torch.Tensor) -> _LayerRunner:
        if layer not in self._runners:
            while len(self._runners) >= _KEPT_LAYERS:
                gone = self._runners.pop(next(iter(self._runners)))
                if gone.capture is not None:
                    gone.capture.remove()
            folded = fold_batchnorm(self.module, [layer], inputs, self.check_layers)
            self._runners[layer] = _LayerRunner(folded, use_channels_last(folded))
        return self._runners[layer]

    def layers(self) -> list[str]:
        """The layers whose copies are kept, oldest first."""
        return list(self._runners)

    def folded(self, layer: str) -> nn.Module | None:
        """The copy kept for `layer` (the model itself if it could not be folded), or None."""
        runner = self._runners.get(layer)
        return runner.folded if runner else None

    def cut(self, layer: str) -> nn.Module | None:
        """The copy cut at `layer` that the grid runs, or None (not made yet, or the grid runs through hooks)."""
        runner = self._runners.get(layer)
        return runner.cut if runner else None


class _OneFrameCapture(ActivationCapture):
    """An `ActivationCapture` whose hooks live only for one `run` (the model is the user's, shared with other jobs)."""

    def run(self, inputs: torch.Tensor) -> dict[str, torch.Tensor]:
        with self:
            return super().run(inputs)
