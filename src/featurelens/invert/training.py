"""Training the backward network: reconstruct each image from its activations at one layer.

The loss is the pixel mean squared error; optionally plus `feature_weight` × the squared error of
the model's activations at an earlier `feature_layer` (a perceptual term that favours edges).
Adam with a one-cycle schedule; the seed fixes the decoder's initialisation and the batch order.
With an output file, the inverter is written after every epoch (and, if Ctrl-C comes before the
first epoch ends, once with what it has), together with the command that reproduces it.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from featurelens.capture import ActivationCapture, find_layer
from featurelens.errors import FeaturelensError, bad_parameter, require_positive
from featurelens.images import to_pixels
from featurelens.invert.inverter import Inverter, new_inverter
from featurelens.models.loaded import LoadedModel
from featurelens.progress import ProgressArg, Reporter, reporting
from featurelens.results import TechniqueResult

SAMPLE_IMAGES = 8  # reconstructions kept in the result to look at

EpochDone = Callable[[Inverter, int], None]  # on_epoch(inverter, epoch) after every finished epoch


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
            raise bad_parameter("epochs", f"must be at least 1, got {self.epochs}")
        if self.batch_size < 1:
            raise bad_parameter("batch_size", f"must be at least 1, got {self.batch_size}")
        require_positive("lr", self.lr)
        require_positive("width", self.width)
        find_layer(model.module, layer)
        if self.feature_layer is not None:
            find_layer(model.module, self.feature_layer)


@dataclass
class TrainResult(TechniqueResult):
    """The trained inverter, the mean training loss of each finished epoch, and whether Ctrl-C stopped it.

    `.images`: the first training images beside their reconstructions (uint8 [2, …]: row 0 inputs, row 1 decodes).
    """

    inverter: Inverter
    losses: list[float] = field(default_factory=list)
    interrupted: bool = False
    seconds: float = 0.0
    sample: torch.Tensor | None = field(default=None, repr=False)  # [n, C, S, S] training images shown in `.images`
    sample_activation: torch.Tensor | None = field(default=None, repr=False)  # their activations at the layer
    saved: Path | None = None

    @property
    def images(self) -> np.ndarray:
        if self.sample is None:
            return np.zeros((0, 0, 0, self.inverter.in_channels), np.uint8)
        return to_pixels(torch.cat([self.sample, self.inverter.decode(self.sample_activation).cpu()]))

    def summary(self) -> dict:
        return {
            "model": self.inverter.model_spec, "layer": self.inverter.layer, "losses": self.losses,
            "epochs_done": self.inverter.config.get("epochs_done", len(self.losses)), "config": dict(self.inverter.config),
            "seconds": self.seconds, "interrupted": self.interrupted, "file": str(self.saved) if self.saved else None,
        }

    def save(self, path: str | Path) -> Path:
        """Write the inverter file (what `featurelens invert train --out` writes)."""
        self.saved = self.inverter.save(path)
        return self.saved


def command_line(model: LoadedModel, layer: str, data: str, settings: TrainSettings, limit: int | None) -> str:
    """The `featurelens invert train` command that reproduces this training."""
    command = (
        f"featurelens invert train --model {model.spec} --layer {layer} --data {data} --epochs {settings.epochs} "
        f"--batch-size {settings.batch_size} --lr {settings.lr:g} --width {settings.width} --seed {settings.seed}"
    )
    if limit:
        command += f" --limit {limit}"
    if settings.feature_layer:
        command += f" --feature-layer {settings.feature_layer} --feature-weight {settings.feature_weight:g}"
    return command


def train_inverter(
    model: LoadedModel,
    layer: str,
    images: torch.Tensor,
    settings: TrainSettings | None = None,
    progress: ProgressArg = None,
    on_epoch: EpochDone | None = None,
    data_name: str = "tensor",
    out: str | Path | None = None,
    command: str | None = None,
) -> TrainResult:
    """Train a decoder for `layer` on images [N, C, S, S] in [0, 1] (S the model's input size); `out` is rewritten every epoch."""
    settings = settings or TrainSettings()
    settings.check(model, layer)
    expected = (model.in_channels, model.input_size, model.input_size)
    if tuple(images.shape[1:]) != expected:
        raise FeaturelensError(f"training images are {tuple(images.shape[1:])}, model {model.spec!r} takes {expected}")
    started = time.perf_counter()
    device = model.device
    targets = [layer] + ([settings.feature_layer] if settings.feature_layer else [])
    target = Path(out) if out is not None else None
    with ActivationCapture(model.module, targets) as capture:
        with torch.no_grad():
            sample = capture.run(model.normalize(images[:2048].to(device)))[layer]
        config = {**asdict(settings), "data": data_name, "images": len(images), "loss": "pixel mse" + (" + feature mse" if settings.feature_layer else "")}
        if command:
            config["command"] = command
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(settings.seed)
            inverter = new_inverter(model, layer, tuple(sample.shape[1:]), settings.width, config)
        dims = [0] + list(range(2, sample.dim()))
        inverter.decoder.scale.copy_(sample.pow(2).mean(dims).sqrt().clamp_min(1e-6))
        result = TrainResult(inverter)

        def epoch_done(trained: Inverter, epoch: int) -> None:
            trained.config["epochs_done"] = epoch + 1
            if target is not None:
                result.saved = trained.save(target)
            if on_epoch is not None:
                on_epoch(trained, epoch)

        with reporting(progress, f"training the {layer} decoder on {len(images)} images") as report:
            try:
                _train(inverter, model, capture, images, settings, report, epoch_done, result)
            except KeyboardInterrupt:
                result.interrupted = True
        if result.interrupted and target is not None and result.saved is None:
            inverter.config["epochs_done"] = 0
            result.saved = inverter.save(target)  # nothing finished: keep the partial decoder rather than nothing
        with torch.no_grad():
            result.sample = images[:SAMPLE_IMAGES].cpu()
            result.sample_activation = capture.run(model.normalize(images[:SAMPLE_IMAGES].to(device)))[layer]
    inverter.decoder.eval()
    result.seconds = time.perf_counter() - started
    return result


def _train(inverter, model, capture, images, settings, report: Reporter, epoch_done: EpochDone, result) -> None:
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
            report.update(epoch * batches + batch + 1, settings.epochs * batches, loss=loss.item())
        result.losses.append(total / batches)
        decoder.eval()
        epoch_done(inverter, epoch)


def _loss(decoder, model, capture, x, layer, settings) -> torch.Tensor:
    with torch.no_grad():
        captured = capture.run(model.normalize(x))
    reconstruction = decoder(captured[layer])
    loss = F.mse_loss(reconstruction, x)
    if settings.feature_layer:
        features = capture.run(model.normalize(reconstruction))[settings.feature_layer]
        loss = loss + settings.feature_weight * F.mse_loss(features, captured[settings.feature_layer])
    return loss
