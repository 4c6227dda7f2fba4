"""Train `MusicCNN` to regress each clip's item factors from its log-mel spectrogram (MSE), as van den Oord et al."""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

from featurelens.audio.network import MusicCNN
from featurelens.errors import FeaturelensError

# progress(epoch, batch, batches, loss): called after every training batch.
Progress = Callable[[int, int, int, float], None]


@dataclass
class TrainResult:
    """A trained network (eval mode) with its history; after Ctrl-C, the network of the last finished epoch."""

    module: MusicCNN
    train_loss: list[float] = field(default_factory=list)  # mean batch loss per finished epoch (unit-variance targets)
    validation_loss: list[float] = field(default_factory=list)  # per finished epoch, when validation data was given
    epoch_seconds: list[float] = field(default_factory=list)
    interrupted: bool = False

    @property
    def epochs(self) -> int:
        return len(self.train_loss)


@torch.no_grad()
def _loss(module: MusicCNN, log_mels: torch.Tensor, targets: torch.Tensor, batch_size: int = 256) -> float:
    module.eval()
    total = 0.0
    for start in range(0, len(log_mels), batch_size):
        prediction = module(log_mels[start:start + batch_size]) / module.factor_scale
        total += nn.functional.mse_loss(prediction, targets[start:start + batch_size] / module.factor_scale,
                                        reduction="sum").item()
    return total / targets.numel()


def train_music_cnn(log_mels: torch.Tensor, targets: torch.Tensor, epochs: int = 20, batch_size: int = 64,
                    lr: float = 2e-3, weight_decay: float = 1e-4, crop_frames: int | None = None, seed: int = 0,
                    validation: tuple[torch.Tensor, torch.Tensor] | None = None,
                    network: dict | None = None, progress: Progress | None = None) -> TrainResult:
    """Train a fresh `MusicCNN` on log-mel spectrograms [N, n_mels, T] and item factors [N, F].

    Adam with a one-cycle schedule; each batch is cropped to a random `crop_frames` window (default 7/8 of
    T: the network pools over time, so it learns not to depend on where the music starts). `network`
    passes keyword arguments to `MusicCNN`. Ctrl-C stops training and keeps the last finished epoch.
    """
    if log_mels.dim() != 3 or targets.dim() != 2 or len(log_mels) != len(targets):
        raise FeaturelensError(f"need log-mels [N, n_mels, T] and targets [N, F] for the same N, got "
                               f"{tuple(log_mels.shape)} and {tuple(targets.shape)}")
    torch.manual_seed(seed)
    shuffle = torch.Generator().manual_seed(seed)
    module = MusicCNN(n_mels=log_mels.shape[1], factors=targets.shape[1], **(network or {}))
    module.norm.mean.copy_(log_mels.mean(dim=(0, 2)).unsqueeze(1))
    module.norm.std.copy_(log_mels.std(dim=(0, 2)).unsqueeze(1).clamp_min(1e-3))
    module.factor_scale.fill_(targets.std().clamp_min(1e-8).item())
    frames = log_mels.shape[-1]
    crop = min(crop_frames or frames * 7 // 8, frames)
    batches = (len(log_mels) + batch_size - 1) // batch_size
    optimizer = torch.optim.Adam(module.parameters(), lr=lr, weight_decay=weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=epochs * batches)
    result = TrainResult(copy.deepcopy(module).eval())
    try:
        for epoch in range(epochs):
            started = time.perf_counter()
            module.train()
            order = torch.randperm(len(log_mels), generator=shuffle)
            total = 0.0
            for batch in range(batches):
                index = order[batch * batch_size:(batch + 1) * batch_size]
                start = int(torch.randint(0, frames - crop + 1, (1,), generator=shuffle))
                x = log_mels[index, :, start:start + crop]
                loss = nn.functional.mse_loss(module(x) / module.factor_scale, targets[index] / module.factor_scale)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                schedule.step()
                total += loss.item()
                if progress is not None:
                    progress(epoch, batch, batches, loss.item())
            seconds = time.perf_counter() - started
            train_loss = total / batches
            validation_loss = _loss(module, *validation) if validation is not None else None
            # Only now is the epoch finished: an interrupt before this line keeps the previous epoch.
            result.module = copy.deepcopy(module).eval()
            result.train_loss.append(train_loss)
            result.epoch_seconds.append(seconds)
            if validation_loss is not None:
                result.validation_loss.append(validation_loss)
    except KeyboardInterrupt:
        result.interrupted = True
    return result
