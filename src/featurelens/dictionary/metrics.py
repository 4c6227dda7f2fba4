"""What the field reports of a sparse dictionary, measured over a data source in one streamed pass.

  fve       fraction of variance explained: 1 − Σ‖x − x̂‖² / Σ‖x − mean‖² over every position's row
  l0        mean active features per position
  dead      share of features that never fired over the data (`live` is the mask of the others)
  accuracy  the model's accuracy, and its accuracy with the layer replaced by its reconstruction (labelled data only)
  agreement share of inputs whose predicted class stays the same with the layer replaced

The replacement is a forward hook that returns the reconstruction in the layer's own layout (`Layout.raw`), so it
works on every layout (maps, channels-last, tokens; extra tokens such as the class token pass through unchanged).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from featurelens.capture import LOGIT, ActivationCapture, find_layer
from featurelens.capture.layout import Layout
from featurelens.data.sources import ImageSource
from featurelens.dictionary.file import Dictionary
from featurelens.dictionary.rows import layer_rows
from featurelens.models import LoadedModel


@dataclass
class DictionaryMetrics:
    """The figures of the module docstring; `live` [F] (not saved) marks features that fired at least once."""

    fve: float
    l0: float
    dead: float
    positions: int
    inputs: int
    agreement: float
    accuracy: float | None = None
    accuracy_replaced: float | None = None
    live: torch.Tensor | None = None

    def to_dict(self) -> dict:
        return {key: value for key, value in asdict(self).items() if key != "live"}

    def summary(self) -> str:
        accuracy = (f"; accuracy {self.accuracy_replaced:.4f} with the layer reconstructed vs {self.accuracy:.4f}"
                    if self.accuracy is not None else "")
        return (f"variance explained {self.fve:.4f}, L0 {self.l0:.2f}, dead {self.dead:.2%}, "
                f"class agreement {self.agreement:.4f}{accuracy} ({self.inputs} inputs, {self.positions} positions)")


def measure(model: LoadedModel, dictionary: Dictionary, source: ImageSource, size: int, labels: torch.Tensor | None = None,
            limit: int | None = None, batch_size: int = 256) -> DictionaryMetrics:
    """The dictionary's figures over entries 0 … `limit`-1 of `source` (`labels` [entries] for accuracy)."""
    dictionary = dictionary.to(model.device)
    sums = _Sums(dictionary.features, model.device)
    layer = find_layer(model.module, dictionary.layer)
    with torch.no_grad(), ActivationCapture(model.module, [dictionary.layer, LOGIT]) as capture:
        for batch in source.batches(0, limit, batch_size, model.in_channels, size):
            if not len(batch.indices):
                continue
            images = model.normalize(batch.images.to(model.device))
            captured = capture.run(images)
            rows = layer_rows(captured[dictionary.layer])
            codes = dictionary.encode(rows)
            sums.add(rows, codes, dictionary.decode(codes))
            handle = layer.register_forward_hook(_replacement(dictionary, capture.layouts[dictionary.layer]))
            try:
                replaced = model.module(images)
            finally:
                handle.remove()
            truth = labels[batch.indices].to(model.device) if labels is not None else None
            sums.add_predictions(captured[LOGIT].flatten(1).argmax(1), replaced.flatten(1).argmax(1), truth)
    return sums.metrics()


def _replacement(dictionary: Dictionary, layout: Layout):
    """A forward hook that hands the rest of the network the layer's reconstruction, in the layer's own layout."""
    def replace(module, args, output: torch.Tensor) -> torch.Tensor:
        positions, extras = layout.canonical(output)
        rebuilt = dictionary.reconstruct(layer_rows(positions))
        shaped = rebuilt.reshape(positions.shape[0], -1, positions.shape[1]).transpose(1, 2).reshape(positions.shape)
        return layout.raw(shaped.contiguous(), extras).contiguous()
    return replace


class _Sums:
    """Running sums (float64) from which the figures come, batch by batch."""

    def __init__(self, features: int, device: torch.device) -> None:
        self.rows, self.inputs = 0, 0
        self.total = self.squares = self.error = self.active = 0.0
        self.channel_sums: torch.Tensor | None = None
        self.fired = torch.zeros(features, dtype=torch.bool, device=device)
        self.agree = self.correct = self.correct_replaced = 0
        self.labelled = True

    def add(self, rows: torch.Tensor, codes: torch.Tensor, rebuilt: torch.Tensor) -> None:
        rows64 = rows.double()
        self.channel_sums = rows64.sum(0) + (self.channel_sums if self.channel_sums is not None else 0)
        self.squares += float(rows64.pow(2).sum())
        self.error += float((rows64 - rebuilt.double()).pow(2).sum())
        active = codes > 0
        self.active += float(active.sum())
        self.fired |= active.any(0)
        self.rows += len(rows)

    def add_predictions(self, own: torch.Tensor, replaced: torch.Tensor, truth: torch.Tensor | None) -> None:
        self.inputs += len(own)
        self.agree += int((own == replaced).sum())
        if truth is None:
            self.labelled = False
            return
        self.correct += int((own == truth).sum())
        self.correct_replaced += int((replaced == truth).sum())

    def metrics(self) -> DictionaryMetrics:
        rows = max(self.rows, 1)
        spread = self.squares - float(self.channel_sums.pow(2).sum()) / rows if self.channel_sums is not None else 0.0
        inputs = max(self.inputs, 1)
        labelled = self.labelled and self.inputs > 0
        return DictionaryMetrics(
            fve=1 - self.error / spread if spread > 0 else 0.0, l0=self.active / rows, dead=float((~self.fired).float().mean()),
            positions=self.rows, inputs=self.inputs, agreement=self.agree / inputs,
            accuracy=self.correct / inputs if labelled else None, accuracy_replaced=self.correct_replaced / inputs if labelled else None,
            live=self.fired.cpu(),
        )
