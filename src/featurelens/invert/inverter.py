"""A trained decoder together with the model and layer it belongs to, and its checkpoint format.

A checkpoint is a plain dict (loads with `torch.load(weights_only=True)`):
{model_spec, layer, input_size, in_channels, layer_shape, state_dict, config}.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from featurelens.capture import ActivationCapture
from featurelens.errors import FeaturelensError
from featurelens.invert.decoder import Decoder
from featurelens.models.loaded import LoadedModel

CHECKPOINT_KEYS = ("model_spec", "layer", "input_size", "in_channels", "layer_shape", "state_dict", "config")


@dataclass
class Inverter:
    """Decodes the activations of `layer` of model `model_spec` back into [0, 1] images of `input_size`."""

    model_spec: str
    layer: str
    input_size: int
    in_channels: int
    layer_shape: tuple[int, ...]
    decoder: Decoder
    config: dict = field(default_factory=dict)

    @torch.no_grad()
    def decode(self, activation: torch.Tensor) -> torch.Tensor:
        """Activations [B, *layer_shape] → images [B, C, S, S] in [0, 1]."""
        self.decoder.eval()
        return self.decoder(activation.to(next(self.decoder.parameters()).device))

    @torch.no_grad()
    def activations(self, model: LoadedModel, images: torch.Tensor) -> torch.Tensor:
        """The layer's activations for images [B, C, S, S] in [0, 1]."""
        with ActivationCapture(model.module, [self.layer]) as capture:
            return capture.run(model.normalize(images.to(model.device)))[self.layer]

    def reconstruct(self, model: LoadedModel, images: torch.Tensor) -> torch.Tensor:
        """Run images to the layer and decode them back: [B, C, S, S] → [B, C, S, S]."""
        return self.decode(self.activations(model, images))

    def check_fits(self, model: LoadedModel, layer: str | None = None) -> None:
        """Raise unless this inverter was trained for `model` (and `layer`, when given)."""
        if self.model_spec != model.spec:
            raise FeaturelensError(f"inverter was trained for model {self.model_spec!r}, not {model.spec!r}: use --model {self.model_spec} or train one for {model.spec}")
        if layer is not None and layer != self.layer:
            raise FeaturelensError(f"inverter decodes layer {self.layer!r}, not {layer!r}: give a unit of {self.layer} or train an inverter for {layer}")

    def to(self, device: torch.device | str) -> "Inverter":
        self.decoder.to(device)
        return self

    def save(self, path: str | Path) -> Path:
        """Write the checkpoint file (loads again with `load_inverter`)."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        torch.save(self.checkpoint(), target)
        return target

    def checkpoint(self) -> dict:
        """The dict saved to disk."""
        return {
            "model_spec": self.model_spec,
            "layer": self.layer,
            "input_size": self.input_size,
            "in_channels": self.in_channels,
            "layer_shape": list(self.layer_shape),
            "state_dict": {k: v.detach().cpu().float().contiguous() for k, v in self.decoder.state_dict().items()},
            "config": dict(self.config),
        }


def new_inverter(model: LoadedModel, layer: str, layer_shape: tuple[int, ...], width: int = 64, config: dict | None = None) -> Inverter:
    """An untrained inverter for `layer` of `model` (layer_shape without the batch)."""
    decoder = Decoder(layer_shape, model.in_channels, model.input_size, width).to(model.device)
    return Inverter(model.spec, layer, model.input_size, model.in_channels, tuple(layer_shape), decoder, {"width": width, **(config or {})})


def inverter_from_checkpoint(state: dict, source: str = "checkpoint") -> Inverter:
    """Rebuild an inverter from its checkpoint dict; a malformed dict is a one-line error."""
    missing = [key for key in CHECKPOINT_KEYS if not isinstance(state, dict) or key not in state]
    if missing:
        raise FeaturelensError(f"{source} is not a featurelens inverter (missing {', '.join(missing)}): train one with `featurelens invert train`")
    config = dict(state["config"])
    decoder = Decoder(tuple(state["layer_shape"]), int(state["in_channels"]), int(state["input_size"]), int(config.get("width", 64)))
    try:
        decoder.load_state_dict(state["state_dict"], strict=True)
    except RuntimeError as err:
        raise FeaturelensError(f"{source} has weights that do not fit its own decoder ({str(err).splitlines()[0]})") from None
    return Inverter(
        str(state["model_spec"]), str(state["layer"]), int(state["input_size"]), int(state["in_channels"]),
        tuple(int(v) for v in state["layer_shape"]), decoder.eval(), config,
    )


def load_inverter(path: str | Path, model: LoadedModel | None = None, layer: str | None = None) -> Inverter:
    """Read an inverter file; with `model` (and `layer`) also check it was made for them."""
    file = Path(path)
    if not file.is_file():
        raise FeaturelensError(f"inverter file {str(file)!r} not found: train one with `featurelens invert train --out {file}`")
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except Exception:  # pickle, zip and torch errors all mean "not an inverter file"
        raise FeaturelensError(f"cannot read inverter file {str(file)!r}: it is not a PyTorch checkpoint; train one with `featurelens invert train`") from None
    inverter = inverter_from_checkpoint(state, f"inverter file {str(file)!r}")
    if model is not None:
        inverter.check_fits(model, layer)
        inverter.to(model.device)
    return inverter


def shipped_inverter_path(model: LoadedModel, layer: str | None = None) -> Path:
    """The inverter file shipped with `model` — for `layer` when it has one, else its first — or an error naming the command that trains one."""
    shipped = model.inverters
    if not shipped:
        raise FeaturelensError(
            f"no inverter ships for model {model.spec!r}: train one with `featurelens invert train --model {model.spec} --layer LAYER --data SOURCE` and pass it as inverter"
        )
    return Path(shipped[layer] if layer in shipped else next(iter(shipped.values())))
