"""Retrain fashion-cnn: `python scripts/train_fashion_cnn.py` (in the project's venv) writes ./fashion_cnn.pt.

The reproducible recipe behind the shipped `src/featurelens/models/weights/fashion_cnn.pt`: Adam with a
one-cycle schedule, two epochs, seed 0, a fixed data order, two torch threads (the sums of a batch are split
by thread, so another thread count, or another CPU, gives other floats at about the same test accuracy).
Output goes where `--out` says, by default the working folder, never into the installed package: the
shipped files change only by copying a checked retrain over them by hand. Their commands:

    python scripts/train_fashion_cnn.py --out fashion_cnn.pt --checkpoints fashion_cnn_training
        fashion_cnn.pt, and the training checkpoints `featurelens evolve` uses by default
        (initialisation, steps 10, 40, 150 and 300 of epoch 1, each epoch end)
    python scripts/train_fashion_cnn.py --seed 1 --out fashion_cnn_seed1.pt
        the `fashion-cnn-seed1` model: the same recipe from another seed, a judge for fashion-cnn's images

`--steps N` stops after N batches (a smoke run: the first N steps of the full recipe, same schedule).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Callable

import torch

import featurelens
from torch import nn

from featurelens.data.fashion_mnist import load_fashion_mnist
from featurelens.models.fashion_cnn import FASHION_MEAN, FASHION_STD, FashionCNN

# The package's source beside this script and the featurelens Python imports (the same folder in an editable install).
PACKAGES = {(Path(__file__).resolve().parents[1] / "src/featurelens").resolve(), Path(featurelens.__file__).resolve().parent}

# progress(epoch, batch, batches, loss): called after every training batch.
Progress = Callable[[int, int, int, float], None]
# on_checkpoint(label, step, epoch, model): called at initialisation, after each step in `checkpoint_steps`, at each epoch end.
CheckpointHook = Callable[[str, int, int, nn.Module], None]
CHECKPOINT_STEPS = (10, 40, 150, 300)  # within epoch 1, where the first features form fast


def _normalise(images: torch.Tensor) -> torch.Tensor:
    """uint8 [N, 28, 28] -> normalised float [N, 1, 28, 28], the model's input space."""
    return ((images.float() / 255 - FASHION_MEAN[0]) / FASHION_STD[0]).unsqueeze(1)


@torch.no_grad()
def evaluate(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 1000) -> float:
    """Accuracy of `model` on uint8 images [N, 28, 28] and int64 labels [N]."""
    model.eval()
    device = next(model.parameters()).device
    correct = 0
    for start in range(0, len(images), batch_size):
        x = _normalise(images[start : start + batch_size]).to(device)
        correct += (model(x).argmax(1).cpu() == labels[start : start + batch_size]).sum().item()
    return correct / len(images)


def train_fashion_cnn(
    epochs: int = 2,
    seed: int = 0,
    batch_size: int = 128,
    device: str | torch.device = "cpu",
    progress: Progress | None = None,
    on_checkpoint: CheckpointHook | None = None,
    checkpoint_steps: tuple[int, ...] = CHECKPOINT_STEPS,
    max_steps: int | None = None,
) -> tuple[FashionCNN, float]:
    """Train a fresh `FashionCNN` with Adam and a one-cycle schedule; returns (model in eval mode, test accuracy).
    Checkpoints draw no random numbers, so the trained weights are the same with or without them. `max_steps`
    stops early (the schedule stays the full run's, so a short run is the full run's first steps)."""
    torch.manual_seed(seed)
    shuffle = torch.Generator().manual_seed(seed)
    train_x, train_y = load_fashion_mnist("train")
    test_x, test_y = load_fashion_mnist("test")
    inputs = _normalise(train_x)
    model = FashionCNN().to(device)
    batches = (len(inputs) + batch_size - 1) // batch_size
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    # One-cycle lets two epochs land near the accuracy that many constant-rate epochs reach.
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=3e-3, total_steps=epochs * batches)
    loss_fn = nn.CrossEntropyLoss()
    if on_checkpoint is not None:
        on_checkpoint("init", 0, 0, model)
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(inputs), generator=shuffle)
        for batch in range(batches):
            index = order[batch * batch_size : (batch + 1) * batch_size]
            x, y = inputs[index].to(device), train_y[index].to(device)
            loss = loss_fn(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            if progress is not None:
                progress(epoch, batch, batches, loss.item())
            step = epoch * batches + batch + 1
            last = batch == batches - 1 or step == max_steps
            if on_checkpoint is not None and (step in checkpoint_steps or last):
                on_checkpoint(f"epoch {epoch + 1}" if batch == batches - 1 else f"step {step}", step, epoch + 1, model)
                model.train()
            if step == max_steps:
                return model.eval(), evaluate(model, test_x, test_y)
    return model.eval(), evaluate(model, test_x, test_y)


def float32_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The state dict as contiguous float32 CPU tensors, the form the package ships."""
    return {name: tensor.detach().cpu().float().contiguous() for name, tensor in model.state_dict().items()}


def checkpoint_saver(folder: Path, test_x: torch.Tensor, test_y: torch.Tensor) -> CheckpointHook:
    """Save each checkpoint as `step{STEP:04d}.pt`: {"state_dict", "label", "step", "epoch", "test_accuracy"}."""
    folder.mkdir(parents=True, exist_ok=True)

    def save(label: str, step: int, epoch: int, model: nn.Module) -> None:
        accuracy = evaluate(model, test_x, test_y)
        torch.save({"state_dict": float32_state(model), "label": label, "step": step, "epoch": epoch, "test_accuracy": accuracy},
                   folder / f"step{step:04d}.pt")
        print(f"checkpoint {label} (step {step}): test accuracy {accuracy:.4f}", flush=True)

    return save


def outside_package(path: Path, flag: str) -> Path:
    """`path`, unless it lies inside the featurelens source package (the shipped weights): then exit with one line."""
    resolved = path.expanduser().resolve()
    if any(resolved.is_relative_to(package) for package in PACKAGES):
        raise SystemExit(f"error: {flag} {path} is inside the featurelens package; write elsewhere (the shipped weights "
                         "change only by copying a checked retrain over them by hand)")
    return path


def run_script(doc: str, train: Callable[..., tuple[nn.Module, float]], out_name: str, epochs: int, threads: int) -> None:
    """The command line of a Fashion-MNIST training script: train with `train`, save the float32 state dict to --out,
    and print the test accuracy (train_fashion_cnn.py and train_fashion_vit.py)."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=epochs)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", "--output", dest="out", type=Path, default=Path(out_name),
                        help=f"weights file (default: ./{out_name}; never inside the package)")
    parser.add_argument("--checkpoints", type=Path, default=None, help="folder for training checkpoints (none when left out)")
    parser.add_argument("--threads", type=int, default=threads,
                        help=f"torch threads; the shipped files were made with {threads} (another count gives other floats)")
    parser.add_argument("--steps", type=int, default=None, help="stop after this many batches (a smoke run)")
    args = parser.parse_args()
    outside_package(args.out, "--out")
    if args.checkpoints is not None:
        outside_package(args.checkpoints, "--checkpoints")
    if args.steps is not None and args.steps < 1:
        raise SystemExit(f"error: --steps must be positive, got {args.steps}")
    torch.set_num_threads(args.threads)

    def progress(epoch: int, batch: int, batches: int, loss: float) -> None:
        if batch % 100 == 0 or batch == batches - 1:
            print(f"epoch {epoch + 1}/{args.epochs} batch {batch + 1}/{batches} loss {loss:.4f}", flush=True)

    start = time.perf_counter()
    saver = checkpoint_saver(args.checkpoints, *load_fashion_mnist("test")) if args.checkpoints else None
    model, accuracy = train(epochs=args.epochs, seed=args.seed, progress=progress, on_checkpoint=saver, max_steps=args.steps)
    state = float32_state(model)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, args.out)
    print(f"test accuracy {accuracy:.4f} in {time.perf_counter() - start:.0f} s "
          f"({torch.get_num_threads()} threads); saved {args.out} ({args.out.stat().st_size / 1e6:.2f} MB)")


def main() -> None:
    run_script(__doc__, train_fashion_cnn, "fashion_cnn.pt", epochs=2, threads=2)


if __name__ == "__main__":
    main()
