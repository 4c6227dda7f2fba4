"""What one unit carries: keep only that unit's activation, zero the rest of the layer, and decode.

A unit is a unit address on the inverter's layer: the whole layer (decode everything), a channel
(its whole map), a neuron (one value), or a direction (each position's component along it).
`contribution` is the decode minus the decode of an all-zero activation, i.e. what the kept unit
adds to the decoder's empty-input image.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from featurelens.capture import probe
from featurelens.errors import FeaturelensError
from featurelens.images import to_pixels
from featurelens.invert.inverter import Inverter
from featurelens.models.loaded import LoadedModel
from featurelens.invert.files import write_decodes  # the writer reads this result by a Protocol: one way, result → files
from featurelens.results import TechniqueResult
from featurelens.units import Unit, UnitExpression, keep_unit, resolve_expression, single_unit


@dataclass
class UnitDecode:
    """Input, decode of the kept unit, and its contribution; images [B, C, S, S], contribution in [-1, 1]."""

    unit: str
    image: torch.Tensor
    reconstruction: torch.Tensor
    contribution: torch.Tensor
    kept: torch.Tensor  # the masked activation that was decoded


def decodable_unit(inverter: Inverter, model: LoadedModel, address) -> Unit:
    """The one unit of an address, checked against the inverter's layer at its input size."""
    unit = single_unit(address, "decoding", "pool2:5 or pool2")
    if unit.class_name is not None:
        raise FeaturelensError(f"{unit} is a class logit: give a unit of the inverter's layer {inverter.layer!r}")
    inverter.check_fits(model, unit.layer)
    return resolve_expression(UnitExpression.of(unit), model, probe(model, inverter.input_size)).terms[0][1]


def decode_unit(inverter: Inverter, model: LoadedModel, image: torch.Tensor, unit) -> UnitDecode:
    """Run images ([B, C, S, S] in [0, 1]) to the inverter's layer, keep `unit`, decode."""
    chosen = unit if isinstance(unit, Unit) else decodable_unit(inverter, model, unit)
    image = image.to(model.device)
    activation = inverter.activations(model, image)
    kept = keep_unit(activation, chosen)
    reconstruction = inverter.decode(kept)
    empty = inverter.decode(torch.zeros_like(activation))
    return UnitDecode(str(chosen), image.cpu(), reconstruction.cpu(), (reconstruction - empty).cpu(), kept.cpu())


def diverging(contribution: torch.Tensor) -> torch.Tensor:
    """Signed image differences [B, C, H, W] as colour [B, 3, H, W]: red where the unit brightens, blue where it darkens, white for none."""
    signed = contribution.mean(1, keepdim=True)
    signed = signed / signed.abs().flatten(1).amax(1).clamp_min(1e-8).view(-1, 1, 1, 1)
    positive, negative = signed.clamp(min=0), (-signed).clamp(min=0)
    return torch.cat([1 - negative, 1 - positive - negative, 1 - positive], 1)


@dataclass
class DecodeResult(TechniqueResult):
    """Decodes of single units: per (image, unit) pair the input, the decode and what the unit adds."""

    units: list[str]
    inputs: torch.Tensor  # [N, C, S, S] the input of each decode
    reconstructions: torch.Tensor  # [N, C, S, S] in [0, 1]
    contributions: torch.Tensor  # [N, C, S, S] in [-1, 1]
    seconds: float = 0.0
    interrupted: bool = False

    @property
    def images(self) -> np.ndarray:
        """The decodes as uint8 [N, S, S, C]."""
        return to_pixels(self.reconstructions)

    @property
    def contribution_images(self) -> np.ndarray:
        """What each unit adds, red (+) and blue (−) on white: uint8 [N, S, S, 3]."""
        return to_pixels(diverging(self.contributions))

    def summary(self) -> dict:
        return {"units": self.units, "seconds": self.seconds, "interrupted": self.interrupted}

    def save(self, path: str | Path) -> Path:
        """A PNG sheet per decode — input | decode | what the unit adds — to `path` (.png for one, else a folder)."""
        return write_decodes(self, Path(path))


def decode_pairs(inverter: Inverter, model: LoadedModel, images: torch.Tensor, units: list[Unit], image_index: list[int]) -> DecodeResult:
    """Decode unit n on image image_index[n] for every n."""
    started = time.perf_counter()
    inputs, reconstructions, contributions = [], [], []
    for unit, index in zip(units, image_index):
        decoded = decode_unit(inverter, model, images[index : index + 1], unit)
        inputs.append(decoded.image)
        reconstructions.append(decoded.reconstruction)
        contributions.append(decoded.contribution)
    return DecodeResult(
        [str(u) for u in units], torch.cat(inputs), torch.cat(reconstructions), torch.cat(contributions),
        seconds=time.perf_counter() - started,
    )
