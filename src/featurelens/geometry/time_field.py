"""Receptive fields in time: which stretch of a clip a unit of an audio model hears, in frames and in seconds.

A unit at time step t of a layer sees input frames `offset + t·stride` … `+ size - 1` (the walk of
`geometry.walk` along the map's x axis, which is time: Conv1d / MaxPool1d over a spectrogram, or
torchcrepe's Conv2d / MaxPool2d whose kernels span one frame); frame f is the front end's window of
`window` samples centred on sample f·hop. Layers after global pooling (vectors) hear the whole clip. Where
the walk cannot follow the forward (torchcrepe's logit, computed frame by frame), the field is measured.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from featurelens.capture import capture_activations, probe
from featurelens.errors import FeaturelensError
from featurelens.geometry.receptive_field import analytic_fields, fit_spans, linearised
from featurelens.models import LoadedModel


@dataclass(frozen=True)
class TimeField:
    """What a unit of `layer` hears. Frames: `size` wide, `stride` apart, unit 0 starting at frame `offset`."""

    layer: str
    size: int  # frames
    stride: int  # frames between neighbouring units
    offset: int  # first frame of unit 0 (negative where the layer sees padding)
    sample_rate: int
    hop_length: int
    window: int
    method: str  # "analytic" (walked) | "measured" (gradient footprints) | "global" (the whole clip)

    def frames(self, t: int, clip_frames: int) -> tuple[int, int]:
        """Frames [first, stop) unit `t` sees of a clip of `clip_frames` frames (clipped to the clip)."""
        if self.method == "global":
            return 0, clip_frames
        first = self.offset + t * self.stride
        return max(first, 0), min(first + self.size, clip_frames)

    def samples(self, t: int, clip_samples: int) -> tuple[int, int]:
        """Samples [start, stop) of the clip unit `t` hears: its frames' windows, clipped to the clip."""
        if self.method == "global":
            return 0, clip_samples
        first, stop = self.frames(t, clip_samples // self.hop_length + 1)
        start, end = first * self.hop_length - self.window // 2, (stop - 1) * self.hop_length + self.window - self.window // 2
        return max(start, 0), min(end, clip_samples)

    def excerpt(self, t: int, clip_samples: int) -> tuple[float, float]:
        """(start, end) in seconds of what unit `t` hears: always inside the clip."""
        start, stop = self.samples(t, clip_samples)
        return start / self.sample_rate, stop / self.sample_rate

    def peak_seconds(self, t: int, clip_samples: int) -> float:
        """The time of unit `t`: the centre of the frames it sees (inside the clip)."""
        first, stop = self.frames(t, clip_samples // self.hop_length + 1)
        return min((first + stop - 1) / 2 * self.hop_length, clip_samples) / self.sample_rate

    def summary(self) -> dict:
        heard = ((self.size - 1) * self.hop_length + self.window) / self.sample_rate
        return {"layer": self.layer, "size_frames": self.size, "stride_frames": self.stride, "offset_frames": self.offset,
                "size_seconds": round(heard, 4), "stride_seconds": round(self.stride * self.hop_length / self.sample_rate, 4),
                "method": self.method}


def time_fields(model: LoadedModel, layers: list[str], frames: int | None = None) -> dict[str, TimeField]:
    """The field in time of every layer of an audio model whose input is `frames` frames long (default: its clip's)."""
    audio = model.audio
    if audio is None:
        raise FeaturelensError(f"model {model.spec!r} is no audio model: receptive fields in time need one (e.g. music-cnn)")
    pair = model.input_pair(frames)
    shapes = probe(model, pair).shapes()
    walked = analytic_fields(model, layers, pair)
    fields = {}
    for layer in dict.fromkeys(layers):
        common = (audio.sample_rate, audio.hop_length, audio.window)
        if len(shapes.get(layer, ())) == 1:  # vectors after global pooling: the whole clip
            fields[layer] = TimeField(layer, pair[1], pair[1], 0, *common, "global")
        elif walked[layer] is None:  # e.g. a logit computed frame by frame inside a forward: measure it
            fields[layer] = measured_time_field(model, layer, pair[1])
        else:
            field = walked[layer]
            fields[layer] = TimeField(layer, field.size[1], field.stride[1], field.offset[1], *common, "analytic")
    return fields


def measured_time_field(model: LoadedModel, layer: str, frames: int) -> TimeField:
    """The field in time of `layer` measured on a linearised copy of the network (positive weights, no gating, max-pools
    averaged: `geometry.receptive_field.linearised`), where the input frames with a nonzero gradient for the units at
    step t are exactly the frames they depend on. One-line error when the spans are no regular field."""
    audio = model.audio
    linear = linearised(model.module)
    steps = probe(model, model.input_pair(frames)).shapes()[layer][-1]
    inputs = torch.ones(steps, audio.channels, frames, device=model.device, requires_grad=True)
    with torch.enable_grad():
        act = capture_activations(linear, inputs, [layer])[layer]
        seed = torch.zeros_like(act)
        for t in range(steps):
            seed[t, ..., t] = 1.0
        (grad,) = torch.autograd.grad(act, inputs, seed)
    heard = grad.abs().sum(1) > 0  # [steps, frames]
    spans = []
    for row in heard:
        found = torch.nonzero(row).flatten()
        if not len(found) or int(found[-1]) - int(found[0]) + 1 != len(found):
            raise FeaturelensError(f"the units of {layer!r} in {model.spec!r} do not each hear one stretch of frames: "
                                   "no receptive field in time")
        spans.append((int(found[0]), int(found[-1]) + 1))
    size, stride, offset = fit_spans(spans, frames)
    field = TimeField(layer, size, stride, offset, audio.sample_rate, audio.hop_length, audio.window, "measured")
    if any(field.frames(t, frames) != span for t, span in enumerate(spans)):
        raise FeaturelensError(f"the units of {layer!r} in {model.spec!r} hear stretches of frames of uneven size or "
                               "step: no receptive field in time")
    return field
