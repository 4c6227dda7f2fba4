"""Retrain fashion-vit: `python scripts/train_fashion_vit.py` (in the project's venv) writes ./fashion_vit.pt.

The reproducible recipe behind the shipped `src/featurelens/models/weights/fashion_vit.pt`: AdamW (weight decay
0.05) at 1e-3 with a linear warmup over 300 steps and a cosine decay to zero, batches of 64, gradients clipped to
norm 1, six epochs (test accuracy 0.8844; four reach 0.8719), no augmentation (a short run underfits), seed 0, a
fixed data order, one torch thread (a tenth of the CPU time two take on this small model, on a busy machine) and
deterministic algorithms (another thread count, or another CPU, gives other floats at about the same accuracy).
About a minute of CPU time an epoch on one free core.
Output goes where `--out` says, by default the working folder, never into the installed package: the shipped
files change only by copying a checked retrain over them by hand. The command:

    python scripts/train_fashion_vit.py --out fashion_vit.pt --checkpoints fashion_vit_training
        fashion_vit.pt, and the training checkpoints `featurelens evolve` uses by default
        (initialisation, steps 50 and 300 of epoch 1, the ends of epochs 1 and 6)

`--steps N` stops after N batches (a smoke run: the first N steps of the full recipe, same schedule).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the fashion-cnn script beside this one holds the shared helpers
from train_fashion_cnn import CheckpointHook, Progress, _normalise, evaluate, run_script  # noqa: E402

from featurelens.data.fashion_mnist import load_fashion_mnist  # noqa: E402
from featurelens.models.fashion_vit import FashionViT  # noqa: E402

EPOCHS = 6
CHECKPOINT_STEPS = (50, 300)  # within epoch 1, where the first features form fast
WARMUP_STEPS = 300


def warmup_cosine(step: int, total: int, warmup: int = WARMUP_STEPS) -> float:
    """Learning-rate factor: linear from 0 to 1 over `warmup` steps, then a half cosine down to 0 at `total`."""
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


def train_fashion_vit(
    epochs: int = EPOCHS,
    seed: int = 0,
    batch_size: int = 64,
    progress: Progress | None = None,
    on_checkpoint: CheckpointHook | None = None,
    checkpoint_steps: tuple[int, ...] = CHECKPOINT_STEPS,
    checkpoint_epochs: tuple[int, ...] | None = None,
    max_steps: int | None = None,
) -> tuple[FashionViT, float]:
    """Train a fresh `FashionViT` on the CPU; returns (model in eval mode, test accuracy). Checkpoints come at
    initialisation, after the steps in `checkpoint_steps`, at the ends of `checkpoint_epochs` (default: the first
    and the last) and at the last step; they draw no random numbers, so the weights are the same with or without them."""
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    order_generator = torch.Generator().manual_seed(seed)
    train_x, train_y = load_fashion_mnist("train")
    test_x, test_y = load_fashion_mnist("test")
    inputs = _normalise(train_x)
    model = FashionViT()
    batches = (len(inputs) + batch_size - 1) // batch_size
    total = epochs * batches
    epoch_ends = set(checkpoint_epochs if checkpoint_epochs is not None else (1, epochs))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: warmup_cosine(step, total))
    loss_fn = nn.CrossEntropyLoss()
    if on_checkpoint is not None:
        on_checkpoint("init", 0, 0, model)
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(inputs), generator=order_generator)
        for batch in range(batches):
            index = order[batch * batch_size : (batch + 1) * batch_size]
            loss = loss_fn(model(inputs[index]), train_y[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            if progress is not None:
                progress(epoch, batch, batches, loss.item())
            step = epoch * batches + batch + 1
            epoch_end = batch == batches - 1
            if on_checkpoint is not None and (step in checkpoint_steps or (epoch_end and epoch + 1 in epoch_ends) or step == max_steps):
                on_checkpoint(f"epoch {epoch + 1}" if epoch_end else f"step {step}", step, epoch + 1, model)
                model.train()
            if step == max_steps:
                return model.eval(), evaluate(model, test_x, test_y)
    return model.eval(), evaluate(model, test_x, test_y)


def main() -> None:
    run_script(__doc__, train_fashion_vit, "fashion_vit.pt", epochs=EPOCHS, threads=1)


if __name__ == "__main__":
    main()
