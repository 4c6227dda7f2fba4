"""`MusicCNN`: Dieleman-style cold-start network, log-mel spectrogram → collaborative-filtering item factors.

As in van den Oord, Dieleman & Schrauwen (2013): mel bands are the input channels, convolutions run over
time only, and global temporal pooling (mean, max, L2) makes the prediction independent of clip length.
`load_music_cnn()` returns the network with weights shipped in the package and its input conventions.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import torch
from torch import nn

from featurelens.audio.frontend import LogMel
from featurelens.errors import FeaturelensError

WEIGHTS_FILE = "weights/music_cnn.pt"


class Standardize(nn.Module):
    """Per-mel-band standardisation with fixed statistics of the training spectrograms: [B, n_mels, T] → same."""

    def __init__(self, n_mels: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_mels, 1))
        self.register_buffer("std", torch.ones(n_mels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class TemporalPooling(nn.Module):
    """Mean, max and L2 norm over time, concatenated: [B, C, T] → [B, 3C] (channels in that order)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        l2 = torch.sqrt(x.square().mean(dim=-1) + 1e-8)
        return torch.cat([x.mean(dim=-1), x.amax(dim=-1), l2], dim=1)


class MusicCNN(nn.Module):
    """Log-mel [B, n_mels, frames] → item factors [B, factors].

    Conv/ReLU stages over time (kernel 4), max-pooling between them (`pools[i]` after stage i + 1), each
    layer a named submodule (`conv1`, `relu1`, `pool1`, …, the last `convN`, `reluN`) so units are
    addressable; then global temporal pooling (`pool`: mean, max, L2), `fc1` (ReLU, dropout) and `fc2`.
    The output is scaled by a fixed `factor_scale` so that the layers work on unit-variance targets while
    the network speaks in the factorisation's own units.
    """

    def __init__(self, n_mels: int = 64, factors: int = 32, widths: tuple[int, ...] = (64, 128, 128),
                 pools: tuple[int, ...] = (4, 2), hidden: int = 256, dropout: float = 0.3) -> None:
        super().__init__()
        if len(pools) != len(widths) - 1:
            raise FeaturelensError(f"{len(widths)} conv stages need {len(widths) - 1} pools, got {len(pools)}")
        self.config = dict(n_mels=n_mels, factors=factors, widths=list(widths), pools=list(pools), hidden=hidden,
                           dropout=dropout)
        self.norm = Standardize(n_mels)
        self.stages = len(widths)
        for n, (width_in, width_out) in enumerate(zip((n_mels, *widths[:-1]), widths), start=1):
            self.add_module(f"conv{n}", nn.Conv1d(width_in, width_out, 4))
            self.add_module(f"relu{n}", nn.ReLU())
            if n < len(widths):
                self.add_module(f"pool{n}", nn.MaxPool1d(pools[n - 1]))
        self.pool = TemporalPooling()
        self.fc1 = nn.Linear(3 * widths[-1], hidden)
        self.relu_fc = nn.ReLU()
        self.dropout = nn.Dropout(dropout)
        self.fc2 = nn.Linear(hidden, factors)
        self.register_buffer("factor_scale", torch.ones(()))

    @property
    def last_conv(self) -> str:
        """Name of the last convolutional layer (`conv3` for the shipped network)."""
        return f"conv{self.stages}"

    def features(self, log_mel: torch.Tensor) -> torch.Tensor:
        """The last conv stage's output after ReLU, [B, widths[-1], T']."""
        x = self.norm(log_mel)
        for n in range(1, self.stages + 1):
            x = getattr(self, f"relu{n}")(getattr(self, f"conv{n}")(x))
            if n < self.stages:
                x = getattr(self, f"pool{n}")(x)
        return x

    def forward(self, log_mel: torch.Tensor) -> torch.Tensor:
        x = self.dropout(self.relu_fc(self.fc1(self.pool(self.features(log_mel)))))
        return self.fc2(x) * self.factor_scale


def min_frames(module: nn.Module) -> int:
    """Fewest input frames a forward pass accepts (the receptive field of one output step of the last conv)."""
    frames, jump = 1, 1
    for layer in module.modules():
        if isinstance(layer, (nn.Conv1d, nn.MaxPool1d)):
            kernel = layer.kernel_size[0] if isinstance(layer.kernel_size, tuple) else layer.kernel_size
            stride = layer.stride[0] if isinstance(layer.stride, tuple) else layer.stride
            frames += (kernel - 1) * jump
            jump *= stride
    return frames


@dataclass
class MusicModel:
    """A music network in eval mode with its conventions: 16 kHz mono waveform → `frontend` → `module`.

    `module` takes the log-mel spectrogram [B, n_mels, frames]; `predict` takes waveforms [B, samples].
    """

    module: MusicCNN
    frontend: LogMel
    spec: str = "music-cnn"
    clip_seconds: float = 3.0

    def __post_init__(self) -> None:
        self.module.eval()
        self.frontend.eval()
        for p in self.module.parameters():
            p.requires_grad_(False)

    @property
    def sample_rate(self) -> int:
        return self.frontend.sample_rate

    @property
    def n_mels(self) -> int:
        return self.frontend.n_mels

    @property
    def hop_length(self) -> int:
        return self.frontend.hop_length

    @property
    def clip_samples(self) -> int:
        return int(round(self.clip_seconds * self.sample_rate))

    @property
    def factors(self) -> int:
        return self.module.fc2.out_features

    @property
    def min_samples(self) -> int:
        """Shortest waveform the network accepts: its receptive field in samples."""
        return (min_frames(self.module) - 1) * self.hop_length

    def log_mel(self, waveform: torch.Tensor) -> torch.Tensor:
        """[B, samples] or [samples] at `sample_rate` → [B, n_mels, frames]."""
        return self.frontend(waveform)

    @torch.no_grad()
    def predict(self, waveform: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
        """Item factors [B, factors] of waveforms [B, samples]."""
        waveform = waveform.reshape(-1, waveform.shape[-1])
        if waveform.shape[-1] < self.min_samples:
            raise FeaturelensError(f"audio of {waveform.shape[-1]} samples is shorter than the network's receptive "
                                   f"field ({self.min_samples} samples): pad it (sources.load_audio_folder pads)")
        return torch.cat([self.module(self.log_mel(waveform[i:i + batch_size]))
                          for i in range(0, len(waveform), batch_size)])


def frontend_from_config(config: dict) -> LogMel:
    keys = ("sample_rate", "n_fft", "hop_length", "n_mels", "fmin", "fmax", "floor")
    return LogMel(**{key: config[key] for key in keys})


def frontend_config(frontend: LogMel) -> dict:
    return dict(sample_rate=frontend.sample_rate, n_fft=frontend.n_fft, hop_length=frontend.hop_length,
                n_mels=frontend.n_mels, fmin=frontend.fmin, fmax=frontend.fmax, floor=frontend.floor)


def save_music_model(model: MusicModel, path, extra: dict | None = None) -> None:
    """Save weights (float32) and conventions in one small file that `load_music_model` reads back."""
    state = {name: tensor.detach().cpu().float().contiguous() for name, tensor in model.module.state_dict().items()}
    torch.save({"network": model.module.config, "frontend": frontend_config(model.frontend),
                "clip_seconds": model.clip_seconds, "state": state, "extra": extra or {}}, path)


def load_music_model(path, spec: str = "music-cnn") -> MusicModel:
    """A `MusicModel` from a file written by `save_music_model`, loaded strictly."""
    saved = torch.load(path, map_location="cpu", weights_only=True)
    config = saved["network"]
    module = MusicCNN(**{**config, "widths": tuple(config["widths"]), "pools": tuple(config.get("pools", (4, 2)))})
    module.load_state_dict(saved["state"], strict=True)
    return MusicModel(module, frontend_from_config(saved["frontend"]), spec, saved["clip_seconds"])


def load_music_cnn() -> MusicModel:
    """The model spec `music-cnn`: the cold-start network with the weights shipped in the package.

    Trained by `scripts/train_music_cnn.py` on the rendered collection to regress WMF item factors.
    """
    with resources.as_file(resources.files("featurelens.audio").joinpath(WEIGHTS_FILE)) as path:
        if not path.is_file():
            raise FeaturelensError(f"the shipped weights {WEIGHTS_FILE} are missing: reinstall featurelens or run "
                                   "python scripts/train_music_cnn.py")
        return load_music_model(path)
