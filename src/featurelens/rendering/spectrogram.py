"""Activation maximization for audio models: grow a log-mel spectrogram, then make it audible.

The parameterization lives in log-mel space (the network's own input), one spectrogram per unit, with its
loudness held fixed (the mean mel power of white noise at -20 dBFS): the optimiser can move energy between
bands and frames but not add any, so a unit is driven by *what* sounds, not by how loud. Robustness comes
from random time shifts (whole frames) and pitch shifts (whole mel bands, ≈ a semitone or two above 1 kHz)
in place of an image's jitter and scale. The result is sonified by phase reconstruction (non-negative least
squares back to linear power, then Griffin-Lim), and the sound is fed back through the front end to check
that it still drives the unit — against noise of the same loudness.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from featurelens.audio.frontend import log_mel_to_waveform
from featurelens.capture import ActivationCapture, find_layer, probe
from featurelens.errors import FeaturelensError
from featurelens.models import LoadedModel
from featurelens.progress import ProgressArg, reporting
from featurelens.rendering.audio_result import AudioRenderResult, RenderedSound
from featurelens.units import PerImageTargets, UnitExpression, expression_value

NOISE_RMS = 0.1  # -20 dBFS: the level the collection's clips are normalised to
LR = 0.05  # Adam step in log-mel units (natural log of power)


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


@dataclass
class AudioRenderPlan:
    """A checked audio render: the model, each spectrogram's unit expression, frames, steps, robustness, seed."""

    model: LoadedModel
    targets: list[UnitExpression]
    frames: int
    steps: int
    seed: int
    lr: float
    shift: SpectrogramShift | None
    objectives: list[UnitExpression] | None = None  # what the optimiser drives (default: `targets`; see `through_relus`)
    griffin_lim: int = 64  # phase-reconstruction iterations

    def describe(self) -> str:
        units = ", ".join(dict.fromkeys(str(t) for t in self.targets))
        robust = "time and pitch shifts" if self.shift else "no shifts"
        seconds = (self.frames - 1) * self.model.audio.hop_length / self.model.audio.sample_rate
        return (f"render {len(self.targets)} spectrogram(s) of {self.model.spec} on {self.model.device}: {units}; "
                f"{self.frames} frames ({seconds:.2f} s), {self.steps} steps, log-mel at fixed loudness, {robust}, "
                f"seed {self.seed}; sonified by Griffin-Lim")

    def run(self, progress: ProgressArg = None) -> AudioRenderResult:
        """Optimise all spectrograms together, then sonify and measure each. Ctrl-C keeps the last step's."""
        started = time.perf_counter()
        model, audio = self.model, self.model.audio
        generator = torch.Generator().manual_seed(self.seed)
        samples = (self.frames - 1) * audio.hop_length
        with torch.no_grad():
            start = audio.spectrogram(noise(len(self.targets), samples, NOISE_RMS, generator).to(model.device))
            level = float(torch.logsumexp(start.flatten(1), 1).mean() - math.log(start[0].numel()))
        raw = start.clone().requires_grad_(True)
        optimizer = torch.optim.Adam([raw], lr=self.lr)
        targets = PerImageTargets(self.objectives or self.targets)
        interrupted, done = False, 0
        with ActivationCapture(model.module, targets.layers) as capture, \
                reporting(progress, f"rendering {len(self.targets)} spectrogram(s)") as report:
            try:
                for done in range(1, self.steps + 1):
                    log_mel = fixed_loudness(raw, level)
                    if self.shift is not None:
                        log_mel = self.shift(log_mel, generator)
                    objective = targets.values(capture.run(log_mel))
                    optimizer.zero_grad(set_to_none=True)
                    (-objective.sum()).backward()
                    optimizer.step()
                    report.update(done, self.steps)
            except KeyboardInterrupt:
                interrupted = True
        with torch.no_grad():
            final = fixed_loudness(raw, level)
            sounds = [self._measured(expression, final[i:i + 1], generator) for i, expression in enumerate(self.targets)]
        return AudioRenderResult(sounds, model.spec, audio.sample_rate, time.perf_counter() - started, done, interrupted)

    def _measured(self, expression: UnitExpression, log_mel: torch.Tensor, generator: torch.Generator) -> RenderedSound:
        """Sonify one spectrogram and measure the unit on it, on its sound, and on noise as loud as that sound."""
        audio, module = self.model.audio, self.model.module
        waveform = log_mel_to_waveform(log_mel.cpu(), audio.frontend.cpu(), self.griffin_lim, seed=self.seed)[0]
        audio.frontend.to(self.model.device)
        rms = float(waveform.square().mean().sqrt())
        noises = noise(4, len(waveform), rms, generator)
        value = lambda x: expression_value(expression, _captured(module, x, expression))  # noqa: E731
        heard = audio.spectrogram(waveform[None].to(self.model.device))
        return RenderedSound(str(expression), log_mel[0].cpu().numpy(), waveform.numpy(), float(value(log_mel)[0]),
                             float(value(heard)[0]), float(value(audio.spectrogram(noises.to(self.model.device))).mean()), rms)


def _captured(module, log_mel: torch.Tensor, expression: UnitExpression) -> dict[str, torch.Tensor]:
    with ActivationCapture(module, expression.layers) as capture:
        return capture.run(log_mel)


def through_relus(expression: UnitExpression, model: LoadedModel, frames: int) -> UnitExpression:
    """The expression with each unit of a ReLU layer moved to the layer that feeds it (same shape, entered just before):
    from noise a ReLU unit is often zero everywhere, with no gradient to climb; its input rises with it."""
    layers = probe(model, frames).layers
    names = [info.name for info in layers]

    def before(unit):
        at = names.index(unit.layer) if unit.layer in names else -1
        if at > 0 and isinstance(find_layer(model.module, unit.layer), nn.ReLU) and layers[at - 1].shape == layers[at].shape:
            return replace(unit, layer=layers[at - 1].name)
        return unit

    return expression.map_units(before)


def plan_audio_render(model: LoadedModel, targets: list[UnitExpression], frames: int | None, steps: int, seed: int,
                      lr: float | None, robust: bool) -> AudioRenderPlan:
    """Check an audio render (units already resolved against the model at `frames`)."""
    audio = model.audio
    if not hasattr(audio.frontend, "filterbank"):
        raise FeaturelensError(f"model {model.spec!r} takes no log-mel spectrogram: audio renders need one (e.g. music-cnn)")
    frames = frames or model.input_size
    if frames < model.min_size:
        raise FeaturelensError(f"{{parameter}} {frames} frames is below {model.spec}'s receptive field of {model.min_size}",
                               parameter="size")
    return AudioRenderPlan(model, targets, frames, steps, seed, lr or LR, SpectrogramShift() if robust else None,
                           [through_relus(target, model, frames) for target in targets])
