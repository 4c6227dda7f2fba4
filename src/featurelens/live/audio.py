"""Live audio: the last few seconds from the page's microphone (or a playing file) → a layer's activations over time.

Browser → server, an audio message: the 4 bytes "FLA1", the little-endian uint32 sample rate, then float32 mono
samples, oldest first. The server keeps the newest `clip_seconds` (the model's clip length; shorter input is
padded with silence in front, so the time axis stays put), resamples to the model's rate, runs the front end
and the network up to the layer, and answers with one row per channel over time plus the log-mel it heard.
"""

from __future__ import annotations

import io
import math
import struct
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from featurelens.audio.sources import read_audio, resample
from featurelens.capture import ActivationCapture
from featurelens.errors import FeaturelensError, error_reason
from featurelens.live.session import LiveOptions, LiveSession, scaled_maps
from featurelens.audio.input import AudioInput
from featurelens.output.spectrogram import DYNAMIC_RANGE

AUDIO_MAGIC = b"FLA1"
MIN_RATE, MAX_RATE = 4000, 192000  # sample rates a page may send (browsers use 8–96 kHz)
MAX_CLIPS = 4  # an audio message holds at most this many clip lengths (the page sends one)
MAX_UPLOAD_SECONDS = 600.0  # an uploaded sound may last 10 minutes (a song; 10 MB of MP3 at 128 kbit/s)


@dataclass
class LiveAudioFrame:
    """One processed window. `maps` uint8 [C, T] (each channel scaled by its own peak, `peaks`); `mel` uint8
    [bands, frames], the log-mel's loudest `DYNAMIC_RANGE` as 0–255; `unit`: the chosen channel's values over time."""

    layer: str
    maps: np.ndarray
    peaks: list[float]
    mel: np.ndarray
    window_seconds: float
    unit: dict | None = None
    seconds: dict = field(default_factory=dict)

    def header(self) -> dict:
        """What the page's message header says of this window (`live.protocol.encode_frame`)."""
        (channels, steps), (bands, frames) = self.maps.shape, self.mel.shape
        return {"kind": "audio", "layer": self.layer, "channels": channels, "steps": steps, "peaks": self.peaks,
                "bands": bands, "frames": frames, "window_seconds": self.window_seconds, "unit": self.unit,
                "seconds": self.seconds}

    def payload(self) -> list[bytes]:
        """The activations over time, then the log-mel."""
        return [self.maps.tobytes(), self.mel.tobytes()]


def encode_audio(samples: np.ndarray, sample_rate: int) -> bytes:
    """The audio message the page sends (used by tests and benchmarks)."""
    return AUDIO_MAGIC + struct.pack("<I", sample_rate) + np.asarray(samples, "<f4").tobytes()


def decode_audio(data: bytes, audio: AudioInput) -> torch.Tensor:
    """An audio message as the model hears it: [1, clip_samples] at its rate, the newest audio last; one-line errors
    for anything else (an image, a cut message, an odd sample rate, too much audio, NaN)."""
    if data[:4] != AUDIO_MAGIC or len(data) < 8:
        raise FeaturelensError("the live message is not audio: this model listens, send the microphone or an audio file")
    (rate,) = struct.unpack("<I", data[4:8])
    if not MIN_RATE <= rate <= MAX_RATE:
        raise FeaturelensError(f"the audio's sample rate {rate} Hz is outside {MIN_RATE}–{MAX_RATE} Hz")
    if (len(data) - 8) % 4:
        raise FeaturelensError("the audio message is cut short: it must hold whole float32 samples")
    samples = np.frombuffer(data, "<f4", offset=8)
    if samples.size == 0:
        raise FeaturelensError("the audio message holds no samples")
    longest = MAX_CLIPS * audio.clip_seconds
    if samples.size > longest * rate:
        raise FeaturelensError(f"the audio message holds {samples.size / rate:.1f} s: send at most {longest:g} s")
    if not np.isfinite(samples).all():
        raise FeaturelensError("the audio holds NaN or infinite samples")
    keep = math.ceil(audio.clip_seconds * rate)
    waveform = resample(samples[-keep:].astype(np.float32), rate, audio.sample_rate)[-audio.clip_samples:]
    waveform = np.pad(waveform, (audio.clip_samples - len(waveform), 0))
    return torch.from_numpy(np.ascontiguousarray(waveform))[None]


def open_audio_bytes(data: bytes, sample_rate: int) -> np.ndarray:
    """An uploaded file (wav, flac, ogg, mp3) as float32 mono at `sample_rate`, or a one-line error saying it is not
    audio, or lasts more than `MAX_UPLOAD_SECONDS` (checked before its samples are decoded)."""
    try:
        decoded, rate, _ = read_audio(io.BytesIO(data), longest=MAX_UPLOAD_SECONDS, rates=(MIN_RATE, MAX_RATE),
                                      what="the upload", fix="send a shorter sound")
    except FeaturelensError:
        raise
    except Exception as err:  # libsndfile's errors for what it cannot read
        raise FeaturelensError(f"the upload is not audio ({error_reason(err)}): send a WAV, FLAC, OGG or MP3 file") from None
    if len(decoded) == 0:
        raise FeaturelensError("the upload holds no audio: send a WAV, FLAC, OGG or MP3 file with sound in it")
    return resample(decoded, rate, sample_rate)


def process_audio(session: LiveSession, waveform: torch.Tensor, options: LiveOptions) -> LiveAudioFrame:
    """Run one window ([1, samples] at the model's rate) of a `LiveSession` with checked `LiveOptions`."""
    model, audio = session.model, session.model.modality.sound
    with session.lock:
        started = time.perf_counter()
        with torch.no_grad():
            inputs = audio.spectrogram(waveform.to(model.device))
            with ActivationCapture(model.module, [options.layer]) as capture:
                activation = capture.run(inputs)[options.layer][0].float()
            log_mel = inputs[0] if audio.makes_log_mel else audio.log_mel(waveform)[0]
    if activation.dim() > 2:  # [C, H, T] (torchcrepe: time within a frame, frames): the peak within each frame
        activation = activation.amax(dim=tuple(range(1, activation.dim() - 1)))
    maps, peaks = scaled_maps(activation[:, None, :])
    frame = LiveAudioFrame(options.layer, maps[:, 0, :], peaks, _mel_levels(log_mel), waveform.shape[-1] / audio.sample_rate)
    if options.unit is not None:
        values = activation[options.unit]
        step = int(values.argmax())
        frame.unit = {"channel": options.unit, "values": [round(float(v), 5) for v in values], "peak": float(values[step]),
                      "peak_step": step}
    frame.seconds = {"model": time.perf_counter() - started}
    return frame


def _mel_levels(log_mel: torch.Tensor) -> np.ndarray:
    """uint8 [bands, frames]: the loudest `DYNAMIC_RANGE` (natural-log units) of the window as 0–255, silence black."""
    values = log_mel.detach().float()
    top = max(float(values.max()), float(values.min()) + DYNAMIC_RANGE)
    return ((values - (top - DYNAMIC_RANGE)).clamp(0, DYNAMIC_RANGE) * (255 / DYNAMIC_RANGE)).round().to(torch.uint8).cpu().numpy()
