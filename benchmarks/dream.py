"""Benchmark `featurelens dream` against torch-dreams on the same photo and settings, in one run.

Workload: the bundled coffee photo at 512×512, EfficientNet-Lite0 (real ImageNet weights), the whole
layer `_blocks.8` (mean of squares), 4 octaves × 10 steps, octave scale 1.4, seed 0.

torch-dreams 4.0.0 (the only release on PyPI) has no octave DeepDream: its way to dream on a photo
is `Dreamer.render` with a `CustomImageParam` made from the photo (a Fourier parameterisation
optimised with Adam under random affine transforms, full-size at every step). So three rows:
  featurelens dream, 4 octaves × 10 steps     what `featurelens dream` does by default
  featurelens dream, 1 octave × 40 steps      the same number of full-size steps as torch-dreams
  torch-dreams render, 40 iterations           same model, layer and objective (custom_func)
Each is run `--repeats` times, alternating; the best time of each is reported.

torch-dreams needs torchvision, which here only works in a separate venv with the CUDA build
(torch 2.14.1 + torchvision 0.29.1); run this script with that venv's python and featurelens on
the path (PYTHONPATH=src). Without torch-dreams the featurelens rows are still measured.

Usage:
  PYTHONPATH=src:benchmarks /tmp/bench-venv/bin/python benchmarks/dream.py [--threads 2] [--repeats 2] [--size 512] [--octaves 4] [--steps 40] [--smoke]
"""

from __future__ import annotations

import argparse
import time

import torch

from featurelens import load_model
from featurelens.deepdream import dream
from featurelens.images import center_square
from featurelens.photos import bundled_photos

from _smoke import parse_args

LAYER = "_blocks.8"


def photo_tensor(size: int) -> torch.Tensor:
    import numpy as np

    array = np.asarray(center_square(bundled_photos()[2], size), dtype=np.float32) / 255
    return torch.from_numpy(array).permute(2, 0, 1)[None]


def time_featurelens(model, photo: torch.Tensor, octaves: int, steps: int) -> tuple[float, float]:
    """(seconds of the octave loop, objective gain final/initial)."""
    result = dream(model, photo, objective=LAYER, octaves=octaves, steps=steps, seed=0)
    return result.seconds, result.final_value / result.initial_value


def time_torch_dreams(model, photo: torch.Tensor, iterations: int) -> tuple[float, float] | str:
    """(seconds of Dreamer.render, objective gain) or why torch-dreams could not run."""
    try:
        import torchvision
        from torch_dreams import Dreamer
        from torch_dreams.custom_image_param import CustomImageParam
    except Exception as err:  # report why, keep our rows
        return f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
    dreamer = Dreamer(model.module, device="cpu", quiet=True)
    dreamer.set_custom_normalization(torchvision.transforms.Normalize(model.mean, model.std))
    param = CustomImageParam(image=photo.clone(), device="cpu")
    layer = dict(model.module.named_modules())[LAYER]
    before = _objective(model, param.to_nchw_tensor())
    start = time.perf_counter()
    param = dreamer.render(
        layers=[layer], image_parameter=param, iters=iterations, lr=3e-4, grad_clip=0.1, weight_decay=1e-1,
        custom_func=lambda outputs: -outputs[0].pow(2).mean(),
    )
    seconds = time.perf_counter() - start
    return seconds, _objective(model, param.to_nchw_tensor()) / before


@torch.no_grad()
def _objective(model, image: torch.Tensor) -> float:
    from featurelens.capture import capture_activations

    return float(capture_activations(model.module, model.normalize(image), [LAYER])[LAYER].pow(2).mean())


SMOKE = {"threads": 1, "repeats": 1, "size": 96, "octaves": 2, "steps": 4}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--size", type=int, default=512, help="side of the photo in pixels")
    parser.add_argument("--octaves", type=int, default=4, help="octaves of the default featurelens row")
    parser.add_argument("--steps", type=int, default=40, help="full-size steps of the other rows; octaves × steps/octaves in the first")
    args = parse_args(parser, SMOKE)
    torch.set_num_threads(args.threads)
    model = load_model("efficientnet-lite0")
    photo = photo_tensor(args.size)
    dream(model, photo[:, :, :64, :64], objective=LAYER, octaves=1, steps=1)  # warm-up
    per_octave = max(1, args.steps // args.octaves)
    octaves = f"featurelens dream, {args.octaves} octaves × {per_octave} steps"
    single = f"featurelens dream, 1 octave × {args.steps} steps"
    peer = f"torch-dreams render, {args.steps} iterations"
    rows: dict[str, list] = {octaves: [], single: [], peer: []}
    for _ in range(args.repeats):
        rows[octaves].append(time_featurelens(model, photo, args.octaves, per_octave))
        rows[single].append(time_featurelens(model, photo, 1, args.steps))
        rows[peer].append(time_torch_dreams(model, photo, args.steps))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.size}×{args.size} coffee photo, {LAYER}, best of {args.repeats}\n")
    print("| run | seconds | objective final/initial |")
    print("|---|---|---|")
    for name, results in rows.items():
        timed = [r for r in results if isinstance(r, tuple)]
        if not timed:
            print(f"| {name} | could not run: {results[0]} | |")
            continue
        best = min(timed)
        print(f"| {name} | {best[0]:.1f} | {best[1]:.2f} |")


if __name__ == "__main__":
    main()
