"""Retrain the shipped Fashion-MNIST weights: `PYTHONPATH=src python scripts/train_fashion_cnn.py`."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from featurelens.models.train_fashion_cnn import train_fashion_cnn

OUTPUT = Path(__file__).resolve().parents[1] / "src/featurelens/models/weights/fashion_cnn.pt"


def main() -> None:
    """Train, save the float32 state dict into the package, and print the test accuracy."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()

    def progress(epoch: int, batch: int, batches: int, loss: float) -> None:
        if batch % 100 == 0 or batch == batches - 1:
            print(f"epoch {epoch + 1}/{args.epochs} batch {batch + 1}/{batches} loss {loss:.4f}", flush=True)

    start = time.perf_counter()
    model, accuracy = train_fashion_cnn(epochs=args.epochs, seed=args.seed, progress=progress)
    state = {name: tensor.detach().cpu().float().contiguous() for name, tensor in model.state_dict().items()}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, args.output)
    print(f"test accuracy {accuracy:.4f} in {time.perf_counter() - start:.0f} s "
          f"({torch.get_num_threads()} threads); saved {args.output} ({args.output.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
