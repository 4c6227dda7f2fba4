"""The training loop of a sparse autoencoder: Adam over streamed batches, progress, checkpoints, Ctrl-C.

A checkpoint holds the step, the autoencoder, the optimizer and the dead-latent counters, not the data: the row
stream depends only on its seed, so a resumed run replays the stream (forward passes, no training) to the step it
stopped at and goes on with exactly the batches an uninterrupted run would have seen — the same bytes at the end.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import torch

from featurelens.dictionary.sae import SparseAutoencoder
from featurelens.progress import ProgressArg, reporting

DECAY_SHARE = 0.2  # the learning rate falls linearly to 0 over the last fifth of the steps


@dataclass
class TrainingState:
    """Where training stands: everything a checkpoint stores (plain tensors and values)."""

    step: int
    autoencoder: dict[str, torch.Tensor]
    optimizer: dict[str, Any]
    rows_since_fired: torch.Tensor  # [F] rows seen since each latent last fired
    seconds: float
    fingerprint: dict[str, Any]
    last_loss: float = float("nan")

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> "TrainingState":
        return cls(**record)


def train_autoencoder(
    autoencoder: SparseAutoencoder, batches: Iterator[torch.Tensor], steps: int, learning_rate: float, dead_after_rows: int,
    fingerprint: dict[str, Any], start: TrainingState | None = None, checkpoint_every: int = 0,
    on_checkpoint: Callable[[TrainingState], None] | None = None, progress: ProgressArg = None,
) -> tuple[TrainingState, bool]:
    """Train on scaled rows from `batches` up to `steps`; returns (final state, interrupted). From `start`, its step's
    batches are read past first. Ctrl-C stops after the last whole step."""
    optimizer = torch.optim.Adam(autoencoder.parameters(), lr=learning_rate)
    device = autoencoder.decoder_bias.device
    features = autoencoder.encoder_weight.shape[0]
    step, since_fired, before = 0, torch.zeros(features, dtype=torch.long, device=device), 0.0
    if start is not None:
        autoencoder.load_state_dict(start.autoencoder)
        optimizer.load_state_dict(start.optimizer)
        step, since_fired, before = start.step, start.rows_since_fired.to(device), start.seconds
    started = time.perf_counter()
    state = lambda loss: TrainingState(step, _cpu(autoencoder.state_dict()), optimizer.state_dict(), since_fired.cpu().clone(),  # noqa: E731
                                       before + time.perf_counter() - started, fingerprint, loss)
    loss_value, interrupted = float("nan"), False
    autoencoder.train()
    try:
        with reporting(progress, f"dictionary ({autoencoder.method})", rate_unit="steps") as report:
            for index, rows in enumerate(batches):
                if index < step:
                    continue  # replaying the stream up to where the checkpoint stopped
                if step >= steps:
                    break
                for group in optimizer.param_groups:
                    group["lr"] = learning_rate * min(1.0, (steps - step) / max(1, DECAY_SHARE * steps))
                loss, codes = autoencoder.loss(rows.to(device), since_fired > dead_after_rows)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                autoencoder.drop_radial_gradient()
                optimizer.step()
                autoencoder.keep_decoder_on_sphere()
                since_fired = torch.where((codes > 0).any(0), torch.zeros_like(since_fired), since_fired + len(rows))
                step, loss_value = step + 1, float(loss.detach())
                report.update(step, steps, loss=loss_value)
                if on_checkpoint is not None and checkpoint_every and step % checkpoint_every == 0 and step < steps:
                    on_checkpoint(state(loss_value))
    except KeyboardInterrupt:
        interrupted = True
    autoencoder.eval()
    return state(loss_value), interrupted


def _cpu(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {name: value.detach().cpu().clone() for name, value in tensors.items()}
