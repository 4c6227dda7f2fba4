"""Activation maximization for audio models: grow a log-mel spectrogram, then make it audible.

The parameterization lives in log-mel space (the network's own input), one spectrogram per unit, with its
loudness held fixed (the mean mel power of white noise at -20 dBFS): the optimiser can move energy between
bands and frames but not add any, so a unit is driven by *what* sounds, not by how loud. Robustness comes
from random time shifts (whole frames) and pitch shifts (whole mel bands, ≈ a semitone or two above 1 kHz)
in place of an image's jitter and scale. The result is sonified by phase reconstruction (non-negative least
squares back to linear power, then Griffin-Lim), and the sound is fed back through the front end to check
that it still drives the unit — against noise of the same loudness. A model whose front end makes no log-mel
(torchcrepe: it only frames the waveform) has the waveform itself grown instead, at the same fixed loudness,
robust to random time shifts. `SoundMedium` is the medium of an audio model's `RenderPlan`; `LogMelParam` and
`WaveformParam` are its two parameterizations.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import Callable, Protocol

import torch
import torch.nn.functional as F
from torch import nn

from featurelens.audio.frontend import log_mel_to_waveform
from featurelens.audio.input import AudioInput
from featurelens.capture import LOGIT, ActivationCapture, capture_activations, find_layer, probe
from featurelens.errors import FeaturelensError
from featurelens.models import LoadedModel
from featurelens.progress import ProgressArg, reporting
from featurelens.rendering.adam import Adam
from featurelens.rendering.result import RenderedUnit, RenderResult, Sound
from featurelens.rendering.settings import RenderSettings
from featurelens.units import PerImageTargets, UnitExpression, expression_value

NOISE_RMS = 0.1  # -20 dBFS: the level the collection's clips are normalised to
LR = 0.05  # Adam step in log-mel units (natural log of power)
WAVEFORM_LR = 0.01  # Adam step on raw samples (the waveform parameterization, rescaled to NOISE_RMS each step)


@dataclass(frozen=True)
class SpectrogramShift:
    """Random time shift of up to ±`frames` frames and pitch shift of up to ±`bands` mel bands (edges repeated)."""

    frames: int = 8
    bands: int = 2

    def __call__(self, log_mel: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        _, bands, frames = log_mel.shape
        padded = F.pad(log_mel, (self.frames, self.frames), mode="replicate")
        padded = F.pad(padded.transpose(1, 2), (self.bands, self.bands), mode="replicate").transpose(1, 2)
        shifts = torch.randint(0, 2 * self.bands + 1, (len(log_mel),), generator=generator).tolist()
        steps = torch.randint(0, 2 * self.frames + 1, (len(log_mel),), generator=generator).tolist()
        return torch.stack([x[b:b + bands, t:t + frames] for x, b, t in zip(padded, shifts, steps)])


def fixed_loudness(raw: torch.Tensor, log_power: float) -> torch.Tensor:
    """`raw` log-mels [B, bands, frames] shifted so each one's mean mel power is exp(`log_power`)."""
    count = raw.shape[1] * raw.shape[2]
    return raw - torch.logsumexp(raw.flatten(1), dim=1).view(-1, 1, 1) + math.log(count) + log_power


def noise(batch: int, samples: int, rms: float, generator: torch.Generator) -> torch.Tensor:
    """White noise [batch, samples] at `rms`."""
    return torch.randn(batch, samples, generator=generator) * rms


@dataclass(frozen=True)
class TimeShift:
    """Random circular shift of a waveform [B, samples] by up to ±`samples` (a waveform's jitter)."""

    samples: int = 256

    def __call__(self, waveform: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        steps = torch.randint(-self.samples, self.samples + 1, (len(waveform),), generator=generator).tolist()
        return torch.stack([torch.roll(row, step) for row, step in zip(waveform, steps)])


def fixed_rms(raw: torch.Tensor, rms: float) -> torch.Tensor:
    """Waveforms [B, samples] scaled to `rms` each."""
    return raw * (rms / raw.square().mean(dim=1, keepdim=True).sqrt().clamp_min(1e-12))


class GrownUnits(Protocol):
    """What a sound's render reads of its plan (a `rendering.optimize.RenderPlan`): the model, each sound's unit
    expression, and the settings (`steps`, `seed`; robust to shifts unless `transforms` is None)."""

    model: LoadedModel
    targets: list[UnitExpression]
    settings: RenderSettings


class SoundParam(Protocol):
    """What a sound render grows (`LogMelParam`, `WaveformParam`): its start from noise and fixed loudness, its random
    shifts, the network's input it makes, and how a grown one is heard."""

    lr: float

    def how(self, robust: bool) -> str: ...

    def start(self, audio: AudioInput, noise: torch.Tensor) -> tuple[torch.Tensor, Callable[[torch.Tensor], torch.Tensor]]: ...

    def shift(self) -> Callable[[torch.Tensor, torch.Generator], torch.Tensor]: ...

    def network_input(self, audio: AudioInput, grown: torch.Tensor) -> torch.Tensor: ...

    def heard(self, audio: AudioInput, grown: torch.Tensor, value: Callable, seed: int) -> tuple[torch.Tensor, torch.Tensor, float, float]: ...


@dataclass(frozen=True)
class LogMelParam:
    """The model's own log-mel [B, bands, frames] at the mean mel power of the noise it starts from, shifted in time and
    pitch; heard through Griffin-Lim (`griffin_lim` iterations) and the front end again."""

    lr: float = LR
    griffin_lim: int = 64

    def how(self, robust: bool) -> str:
        return f"log-mel at fixed loudness, {'time and pitch shifts' if robust else 'no shifts'}; sonified by Griffin-Lim"

    def start(self, audio: AudioInput, noise: torch.Tensor) -> tuple[torch.Tensor, Callable[[torch.Tensor], torch.Tensor]]:
        start = audio.spectrogram(noise)
        level = float(torch.logsumexp(start.flatten(1), 1).mean() - math.log(start[0].numel()))
        return start, lambda x: fixed_loudness(x, level)

    def shift(self) -> SpectrogramShift:
        return SpectrogramShift()

    def network_input(self, audio: AudioInput, grown: torch.Tensor) -> torch.Tensor:
        return grown

    def heard(self, audio: AudioInput, grown: torch.Tensor, value: Callable, seed: int) -> tuple[torch.Tensor, torch.Tensor, float, float]:
        """(waveform, log-mel [1, bands, frames], the unit on the grown log-mel, the unit on the waveform through the front end)."""
        device = grown.device
        waveform = log_mel_to_waveform(grown.cpu(), audio.frontend.cpu(), self.griffin_lim, seed=seed)[0]
        audio.frontend.to(device)
        return waveform, grown, float(value(grown)[0]), float(value(audio.spectrogram(waveform[None].to(device)))[0])


@dataclass(frozen=True)
class WaveformParam:
    """The waveform itself [B, samples] at the noise's RMS, shifted in time (a front end that only frames the waveform,
    torchcrepe's): what the network hears is what it grew."""

    lr: float = WAVEFORM_LR

    def how(self, robust: bool) -> str:
        return f"waveform at fixed loudness, {'time shifts' if robust else 'no shifts'}"

    def start(self, audio: AudioInput, noise: torch.Tensor) -> tuple[torch.Tensor, Callable[[torch.Tensor], torch.Tensor]]:
        return noise, lambda x: fixed_rms(x, NOISE_RMS)

    def shift(self) -> TimeShift:
        return TimeShift()

    def network_input(self, audio: AudioInput, grown: torch.Tensor) -> torch.Tensor:
        return audio.spectrogram(grown)

    def heard(self, audio: AudioInput, grown: torch.Tensor, value: Callable, seed: int) -> tuple[torch.Tensor, torch.Tensor, float, float]:
        waveform = grown[0].cpu()
        grown_value = float(value(audio.spectrogram(grown))[0])
        return waveform, audio.log_mel(waveform[None]), grown_value, grown_value


@dataclass
class SoundMedium:
    """What an audio model's render grows (the `RenderMedium` of sound): one input per unit, `frames` wide, at a fixed
    loudness (`param`: a log-mel, or the waveform for a front end without one), then made audible and measured as heard."""

    frames: int
    param: SoundParam
    objectives: list[UnitExpression] | None = None  # what the optimiser drives (default: the targets; see `through_relus`)

    def describe(self, plan: GrownUnits) -> str:
        units = ", ".join(dict.fromkeys(str(t) for t in plan.targets))
        return (f"render {len(plan.targets)} sound(s) of {plan.model.spec} on {plan.model.device}: {units}; "
                f"{plan.model.size_label(self.frames)}, {plan.settings.steps} steps, {self.param.how(plan.settings.transforms is not None)}, "
                f"seed {plan.settings.seed}")

    def run(self, plan: GrownUnits, progress: ProgressArg = None) -> RenderResult:
        """Optimise all sounds together, then sonify and measure each. Ctrl-C keeps the last step's."""
        started = time.perf_counter()
        model, audio, steps, param = plan.model, plan.model.modality.sound, plan.settings.steps, self.param
        generator = torch.Generator().manual_seed(plan.settings.seed)
        samples = (self.frames - 1) * audio.hop_length
        with torch.no_grad():
            start, fixed = param.start(audio, noise(len(plan.targets), samples, NOISE_RMS, generator).to(model.device))
        shift = param.shift() if plan.settings.transforms is not None else None
        raw = start.clone().requires_grad_(True)
        optimizer = Adam([raw], lr=param.lr)
        targets = PerImageTargets(self.objectives or plan.targets)
        interrupted, done = False, 0
        with ActivationCapture(model.module, targets.layers) as capture, \
                reporting(progress, f"rendering {len(plan.targets)} sound(s)") as report:
            try:
                for done in range(1, steps + 1):
                    x = fixed(raw)
                    if shift is not None:
                        x = shift(x, generator)
                    objective = targets.values(capture.run(param.network_input(audio, x)))
                    optimizer.zero_grad(set_to_none=True)
                    (-objective.sum()).backward()
                    optimizer.step()
                    report.update(done, steps)
            except KeyboardInterrupt:
                interrupted = True
        with torch.no_grad():
            final = fixed(raw)
            sounds = [self._measured(plan, expression, final[i:i + 1], generator) for i, expression in enumerate(plan.targets)]
        return RenderResult(units=sounds, seconds=time.perf_counter() - started, steps=done, interrupted=interrupted,
                            size=self.frames, model=model.spec, sample_rate=audio.sample_rate)

    def _measured(self, plan: GrownUnits, expression: UnitExpression, grown: torch.Tensor, generator: torch.Generator) -> RenderedUnit:
        """Make one grown sound audible and measure the unit on the network's input, on the sound fed back through the
        front end, and on noise as loud as that sound."""
        model = plan.model
        audio, module, device = model.modality.sound, model.module, model.device
        value = lambda x: expression_value(expression, capture_activations(module, x, expression.layers))  # noqa: E731
        waveform, log_mel, grown_value, heard_value = self.param.heard(audio, grown, value, plan.settings.seed)
        rms = float(waveform.square().mean().sqrt())
        noises = noise(4, len(waveform), rms, generator)
        log_mel = log_mel[0].cpu().numpy()
        sound = Sound(log_mel=log_mel, waveform=waveform.numpy(), heard=heard_value,
                      noise=float(value(audio.spectrogram(noises.to(device))).mean()), rms=rms)
        # a sound is judged by how it is heard and against noise, not by jitter or photos: those figures stay its activation
        return RenderedUnit(unit=str(expression), image=model.modality.picture(log_mel), objective=grown_value,
                            activation=grown_value, robust_activation=grown_value, natural_max=0.0, size=self.frames, sound=sound)


def through_relus(expression: UnitExpression, model: LoadedModel, frames: int) -> UnitExpression:
    """The expression with each unit of a ReLU layer moved to the layer that feeds it (same shape, entered just before):
    from noise a ReLU unit is often zero everywhere, with no gradient to climb; its input rises with it."""
    layers = probe(model, frames).layers
    names = [info.name for info in layers]

    def before(unit):
        at = names.index(unit.layer) if unit.layer in names and unit.layer != LOGIT else -1
        if at > 0 and isinstance(find_layer(model.module, unit.layer), nn.ReLU) and layers[at - 1].shape == layers[at].shape:
            return replace(unit, layer=layers[at - 1].name)
        return unit

    return expression.map_units(before)


def sound_medium(model: LoadedModel, targets: list[UnitExpression], frames: int | None, lr: float | None) -> SoundMedium:
    """What an audio render of `targets` (already resolved against the model at `frames`; None: its clip) grows, checked."""
    frames = frames or model.input_size
    if frames < model.min_size:
        raise FeaturelensError(f"{{parameter}} {frames} frames is below {model.spec}'s receptive field of {model.min_size}",
                               parameter="size")
    param = LogMelParam() if model.modality.sound.makes_log_mel else WaveformParam()
    return SoundMedium(frames, replace(param, lr=lr) if lr else param, [through_relus(target, model, frames) for target in targets])
