"""Training the backward network: reconstruct each image from its activations at one layer.

The loss is the pixel mean squared error; optionally plus `feature_weight` × the squared error of
the model's activations at an earlier `feature_layer` (a perceptual term that favours edges).
Adam with a one-cycle schedule; the seed fixes the decoder's initialisation and the batch order.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Callable

import torch
import torch.nn.functional as F

from featurelens.capture import ActivationCapture, find_layer
from featurelens.errors import FeaturelensError
from featurelens.invert.inverter import Inverter, new_inverter
from featurelens.models.loaded import LoadedModel

# progress(epoch, batch, batches, loss) after every batch; on_epoch(inverter, epoch) after every epoch.
Progress = Callable[[int, int, int, float], None]
EpochDone = Callable[[Inverter, int], None]


@dataclass(frozen=True)
class TrainSettings:
    """Knobs of inverter training."""

    epochs: int = 2
    batch_size: int = 128
    lr: float = 3e-3
    width: int = 64
    seed: int = 0
    feature_layer: str | None = None
    feature_weight: float = 1.0

    def check(self, model: LoadedModel, layer: str) -> None:
        if self.epochs < 1:
            raise FeaturelensError(f"--epochs must be at least 1, got {self.epochs}")
        if self.batch_size < 1:
            raise FeaturelensError(f"--batch-size must be at least 1, got {self.batch_size}")
        if self.lr <= 0:
            raise FeaturelensError(f"--lr must be positive, got {self.lr}")
        find_layer(model.module, layer)
        if self.feature_layer is not None:
            find_layer(model.module, self.feature_layer)


@dataclass
class TrainResult:
    """The trained inverter, the mean training loss of each finished epoch, and whether Ctrl-C stopped it."""

    inverter: Inverter
    losses: list[float] = field(default_factory=list)
    interrupted: bool = False


def train_inverter(
    model: LoadedModel,
    layer: str,
    images: torch.Tensor,
    settings: TrainSettings | None = None,
    progress: Progress | None = None,
    on_epoch: EpochDone | None = None,
    data_name: str = "tensor",
) -> TrainResult:
    """Train a decoder for `layer` on images [N, C, S, S] in [0, 1] (S the model's input size)."""
    settings = settings or TrainSettings()
    settings.check(model, layer)
    if images.shape[1:] != (model.in_channels, model.input_size, model.input_size):
        raise FeaturelensError(f"training images are {tuple(images.shape[1:])}, model {model.spec!r} takes {(model.in_channels, model.input_size, model.input_size)}")
    device = model.device
    targets = [layer] + ([settings.feature_layer] if settings.feature_layer else [])
    with ActivationCapture(model.module, targets) as capture:
        with torch.no_grad():
            sample = capture.run(model.normalize(images[:2048].to(device)))[layer]
        config = {**asdict(settings), "data": data_name, "images": len(images), "loss": "pixel mse" + (" + feature mse" if settings.feature_layer else "")}
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(settings.seed)
            inverter = new_inverter(model, layer, tuple(sample.shape[1:]), settings.width, config)
        dims = [0] + list(range(2, sample.dim()))
        inverter.decoder.scale.copy_(sample.pow(2).mean(dims).sqrt().clamp_min(1e-6))
        result = TrainResult(inverter)
        try:
            _train(inverter, model, capture, images, settings, progress, on_epoch, result)
        except KeyboardInterrupt:
            result.interrupted = True
    inverter.decoder.eval()
    return result


def _train(inverter, model, capture, images, settings, progress, on_epoch, result) -> None:
    decoder = inverter.decoder
    order_generator = torch.Generator().manual_seed(settings.seed)
    batches = (len(images) + settings.batch_size - 1) // settings.batch_size
    optimizer = torch.optim.Adam(decoder.parameters(), lr=settings.lr / 3)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=settings.lr, total_steps=settings.epochs * batches)
    for epoch in range(settings.epochs):
        decoder.train()
        order = torch.randperm(len(images), generator=order_generator)
        total = 0.0
        for batch in range(batches):
            x = images[order[batch * settings.batch_size : (batch + 1) * settings.batch_size]].to(model.device)
            loss = _loss(decoder, model, capture, x, inverter.layer, settings)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total += loss.item()
            if progress is not None:
                progress(epoch, batch, batches, loss.item())
        result.losses.append(total / batches)
        decoder.eval()
        if on_epoch is not None:
            on_epoch(inverter, epoch)


def _loss(decoder, model, capture, x, layer, settings) -> torch.Tensor:
    with torch.no_grad():
        captured = capture.run(model.normalize(x))
    reconstruction = decoder(captured[layer])
    loss = F.mse_loss(reconstruction, x)
    if settings.feature_layer:
        features = capture.run(model.normalize(reconstruction))[settings.feature_layer]
        loss = loss + settings.feature_weight * F.mse_loss(features, captured[settings.feature_layer])
    return loss
