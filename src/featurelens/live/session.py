"""One live frame through the model: a layer's maps, the top classes, why the top class, a unit's projection.

Everything a frame needs is computed in as few passes as it allows: one forward to the layer for the
grid alone (stopping there), a full forward when classes are shown (the layer is captured as a leaf,
so "why this class" — each channel's activation × gradient of the top logit, summed over space —
costs only the backward above the layer), and one forward/backward below the layer for the
selected unit's projection. The grid and the classes run on faster copies of the model (`live.runners`).
Calls are serialised: the model's hooks belong to one frame at a time.

A layer is *signed* when its maps go below zero (a linear bottleneck, a convolution before its activation):
decided once from the bundled photos and, should a later frame go below zero at a layer they did not, from
then on, so a layer's colours never flicker. Signed maps are sent with 128 as zero, each channel scaled by its
largest |value|; rectified maps with 0 as zero, each channel scaled by its peak.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from featurelens.capture import LOGIT, lowest_values, mid_layer, probe
from featurelens.dictionary.attach import dictionary_of
from featurelens.errors import bad_parameter
from featurelens.live.runners import LayerRunners
from featurelens.models import LoadedModel
from featurelens.photos import photo_batch
from featurelens.projection.backproject import backproject
from featurelens.projection.pictures import projection_picture
from featurelens.projection.rectifiers import check_method
from featurelens.units.resolve import channel_out_of_range


@dataclass(frozen=True)
class LiveOptions:
    """What the page asks of each frame."""

    layer: str
    unit: int | None = None  # the channel whose projection is shown
    method: str = "guided"
    classes: bool = True  # top-k classes (needs the full forward)
    why: bool = True  # the channels that drive the top class
    top: int = 5


@dataclass
class LiveFrame:
    """One processed frame. `maps` uint8 [C, H, W], each channel scaled by its own peak (`peaks`); for a `signed`
    layer 128 is zero and the peak is the channel's largest |value|."""

    layer: str
    maps: np.ndarray
    peaks: list[float]
    signed: bool = False
    classes: list[dict] | None = None
    why: list[dict] | None = None
    projection: np.ndarray | None = None  # uint8 [S, S, C] picture of the unit's projection
    unit: dict | None = None
    seconds: dict = field(default_factory=dict)

    def header(self) -> dict:
        """What the page's message header says of this frame (`live.protocol.encode_frame`)."""
        channels, height, width = self.maps.shape
        return {"layer": self.layer, "channels": channels, "height": height, "width": width, "peaks": self.peaks,
                "signed": self.signed, "classes": self.classes, "why": self.why, "unit": self.unit,
                "projection": list(self.projection.shape) if self.projection is not None else None, "seconds": self.seconds}

    def payload(self) -> list[bytes]:
        """The maps, then the unit's projection picture when one is chosen."""
        return [self.maps.tobytes()] + ([self.projection.tobytes()] if self.projection is not None else [])


class LiveSession:
    """The live model: checks options against its layers and turns frames into `LiveFrame`s, one at a time."""

    def __init__(self, model: LoadedModel):
        self.model = model
        self.lock = threading.Lock()
        found = probe(model)
        self.shapes = found.shapes()
        self.grid_layers = [info.name for info in found.layers if len(info.shape) in model.modality.map_ranks]
        self.has_classes = model.modality.shows_top_classes and LOGIT in self.shapes and len(self.shapes[LOGIT]) == 1
        self.signed = _signed_on_photos(model, self.grid_layers)
        self.default_layer = live_layer(model, self.shapes, self.grid_layers, self.signed)
        self.runners = LayerRunners(model.module, check_logits=self.has_classes)

    def check(self, options: LiveOptions) -> LiveOptions:
        """The options, or a one-line error naming what is wrong (unknown layer, channel out of range, …)."""
        if options.layer not in self.grid_layers:
            close = [name for name in self.grid_layers if name.startswith(options.layer.split(".")[0])][:4]
            hint = f"; e.g. {', '.join(close)}" if close else ""
            raise bad_parameter("layer", f"{options.layer!r} is not a layer with a {self.model.modality.map_noun}{hint}")
        channels = self.shapes[options.layer][0]
        if options.unit is not None and not 0 <= options.unit < channels:
            raise channel_out_of_range(options.layer, options.unit, channels)
        check_method(options.method)
        if not self.has_classes:
            options = replace(options, classes=False, why=False)
        return options

    def process(self, image: torch.Tensor, options: LiveOptions) -> LiveFrame:
        """Run one frame ([1, C, S, S] in [0, 1]) with checked options."""
        with self.lock:
            return self._process(image, options)

    def _process(self, image: torch.Tensor, options: LiveOptions) -> LiveFrame:
        model = self.model
        started = time.perf_counter()
        inputs = model.normalize(image.to(model.device))
        frame_classes = frame_why = None
        if options.classes:
            features = dictionary_of(model.module, options.layer)  # a dictionary's features feed nothing: read its layer
            read = features.layer if features is not None else options.layer
            with torch.set_grad_enabled(options.why):
                acts = self.runners.capture(read, True, inputs).run(inputs)
                activation, logits = acts[read], acts[LOGIT]
                frame_classes = self._classes(logits, options.top)
                if options.why and activation.requires_grad:  # heads and attention views are read, not fed back: no "why"
                    directions = features.weight if features is not None else None
                    frame_why = self._why(activation, logits, frame_classes[0]["index"], directions)
            activation = activation.detach() if features is None else features(activation.detach())
        else:
            activation = self.runners.grid(options.layer, inputs)
        if options.layer not in self.signed and float(activation.amin()) < 0:  # signed from now on
            self.signed.add(options.layer)
        signed = options.layer in self.signed
        maps, peaks = scaled_maps(activation[0], signed)
        frame = LiveFrame(options.layer, maps, peaks, signed, frame_classes, frame_why)
        forward = time.perf_counter()
        if options.unit is not None:
            found = backproject(model.module, inputs, options.layer, torch.tensor([options.unit]), None, options.method)
            frame.projection = projection_picture(found.inputs_grad[0].float().cpu().numpy())
            flat = not bool(found.inputs_grad.any())  # nothing reached the input (a unit at 0, or clipped): the page says so
            frame.unit = {"channel": options.unit, "position": found.positions[0], "activation": float(found.activations[0]), "method": options.method,
                          "flat": flat}
        done = time.perf_counter()
        frame.seconds = {"model": forward - started, "projection": done - forward}
        return frame

    def _classes(self, logits: torch.Tensor, top: int) -> list[dict]:
        probabilities = logits.detach()[0].float().softmax(0)
        values, indices = probabilities.topk(min(top, probabilities.numel()))
        return [{"index": int(i), "label": self.model.class_label(int(i)), "probability": float(v)} for v, i in zip(values, indices)]

    @staticmethod
    def _why(activation: torch.Tensor, logits: torch.Tensor, index: int, directions: torch.Tensor | None = None,
             count: int = 12) -> list[dict]:
        """The channels that add most to logit `index`: activation × gradient, summed over space (largest first).
        With `directions` [F, C] (a dictionary's features), each feature's share: its direction's component of the
        activation times its component of the gradient, Σ_positions (u·x)(u·g) (for orthonormal directions these add
        up to the channels' total)."""
        (gradient,) = torch.autograd.grad(logits[0, index], activation)
        activation = activation.detach()
        if directions is not None:
            activation, gradient = (torch.einsum("fc,nc...->nf...", directions, value) for value in (activation, gradient))
        contributions = (activation * gradient)[0].flatten(1).sum(1).float()
        values, channels = contributions.topk(min(count, contributions.numel()))
        return [{"channel": int(c), "contribution": float(v)} for v, c in zip(values, channels)]


def scaled_maps(activation: torch.Tensor, signed: bool = False) -> tuple[np.ndarray, list[float]]:
    """[C, H, W] → uint8 maps, each channel's positive part scaled by its own peak (zero and below are 0); `signed`:
    128 is zero, each channel scaled by its largest |value| to 1 … 255, which is the peak reported."""
    activation = activation.detach().float()
    if signed:
        peaks = activation.abs().flatten(1).amax(1)
        scaled = (128 + activation / peaks.clamp_min(1e-12).view(-1, 1, 1) * 127).round().to(torch.uint8)
        return scaled.cpu().numpy(), [float(p) for p in peaks]
    peaks = activation.flatten(1).amax(1).clamp_min(0)
    scaled = (activation.clamp_min(0) / peaks.clamp_min(1e-12).view(-1, 1, 1) * 255).round().to(torch.uint8)
    return scaled.cpu().numpy(), [float(p) for p in peaks]


def _signed_on_photos(model: LoadedModel, layers: list[str]) -> set[str]:
    """The layers whose maps go below zero on the bundled photos (an image model's; none known yet for sound)."""
    if not model.modality.takes_photos:
        return set()
    photos = model.normalize(photo_batch(model.input_size, model.in_channels).to(model.device))
    lowest = lowest_values(model.module, photos)
    return {name for name in layers if lowest.get(name, 0.0) < 0}


def live_layer(model: LoadedModel, shapes: dict[str, tuple[int, ...]], layers: list[str], signed: set[str]) -> str:
    """The layer the live page opens on: mid-network and rectified, so a newcomer reads its maps (brighter is stronger).

    `mid_layer` when its maps are ≥ 0; else its last rectified sub-layer (an MBConv block's output is a linear
    bottleneck, its `_depthwise_act` is not); else the rectified spatial layer nearest it in forward order."""
    mid = mid_layer(model)
    rectified = [name for name in layers if name not in signed and len(shapes[name]) == 3 and min(shapes[name][1:]) >= 2]
    if mid in rectified or mid not in layers or not rectified:
        return mid
    inside = [name for name in rectified if name.startswith(mid + ".") and "." not in name[len(mid) + 1 :]]
    if inside:
        return inside[-1]
    order = {name: i for i, name in enumerate(layers)}
    return min(rectified, key=lambda name: (abs(order[name] - order[mid]), name.count(".")))
