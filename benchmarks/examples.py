"""Benchmark `featurelens examples` against the raw forward pass it cannot avoid, in one run.

Two workloads:
  (a) Fashion-MNIST training set (60 000 images), fashion-cnn, every channel of every conv layer
      (conv1, conv2, conv3);
  (b) a folder of a few hundred 224 px photos (the bundled photos, as random crops/flips saved as
      JPEG and PNG), the default model (efficientnet-lite0), three layers.
For each: images/s of the examples pass (reading the source, forward to the deepest layer, top-k
and bottom-k of every channel) against images/s of the raw forward pass alone, on images already
decoded and normalised in memory, stopped at the same deepest layer, same batch size. Raw and
examples alternate over `--chunks` chunks of the data (the examples pass continues from its state
chunk after chunk, as a resumed run does), so load drift on a shared machine hits both; the whole
is repeated `--repeats` times and the best and median ratios are reported. Also reported: the
setup per call (receptive fields, fingerprint) and the time to write the table, crops and pages.

A third workload (c) times the projections of `featurelens examples --project`: the 17 bundled photos,
efficientnet-lite0, `_blocks.4,_blocks.12`, the deconvnet projection of every top-9 example (2 088), in
batches of `--projection-batch` inputs, against the raw cost of the same number of forward+backward
passes batched (each example's input to its layer, plain gradient of its unit), and the peak memory
of live tensors while projecting (a dispatch-mode meter) and the process's resident-memory peak.

Usage:
  PYTHONPATH=benchmarks python benchmarks/examples.py [--threads N] [--batch-size 64] [--repeats 3] [--chunks 6] [--photos 306] [--smoke]
  PYTHONPATH=benchmarks python benchmarks/examples.py --only projections [--projection-batch 16] [--projection-units N]
"""

from __future__ import annotations

import argparse
import random
import resource
import tempfile
import time
from pathlib import Path

import torch
from PIL import Image

from featurelens import load_model
from featurelens.capture import ActivationCapture
from featurelens.data.fashion_mnist import load_fashion_mnist
from featurelens.dataset_examples.projections import example_projections
from featurelens.memory import LiveTensorBytes
from featurelens.dataset_examples import collect_examples
from featurelens.data.sources import open_source
from featurelens.dataset_examples.files import write_examples
from featurelens.photos import bundled_photos

from _raw import raw_seconds
from _smoke import parse_args

FASHION_LAYERS = ["conv1", "conv2", "conv3"]
LITE_LAYERS = ["_blocks.4", "_blocks.10", "_blocks.15"]


def interleaved(model, source, images: torch.Tensor, layers, batch_size: int, chunks: int):
    """Raw and examples alternate chunk by chunk (the examples pass continues from its own state), so load drift hits both.

    Returns (result, raw seconds, examples pass seconds, setup seconds).
    """
    bounds = [round(len(images) * i / chunks) for i in range(chunks + 1)]
    raw = 0.0
    state = None
    setup = 0.0
    for begin, end in zip(bounds, bounds[1:]):
        raw += raw_seconds(model, images[begin:end], layers[-1], batch_size)
        start = time.perf_counter()
        result = collect_examples(model, source, layers, k=9, batch_size=batch_size, limit=end, resume=state)
        setup += time.perf_counter() - start - (result.seconds - (state.seconds if state else 0.0))
        state = result.state
    return result, raw, result.seconds, setup


def photo_folder(root: Path, count: int, size: int = 224, seed: int = 0) -> Path:
    """`count` random square crops (40–100 % of the short side) of the bundled photos, flipped half the time."""
    rng = random.Random(seed)
    photos = bundled_photos()
    for i in range(count):
        photo = photos[i % len(photos)]
        width, height = photo.size
        side = int(min(width, height) * rng.uniform(0.4, 1.0))
        left, top = rng.randint(0, width - side), rng.randint(0, height - side)
        crop = photo.crop((left, top, left + side, top + side)).resize((size, size), Image.BILINEAR)
        if rng.random() < 0.5:
            crop = crop.transpose(Image.FLIP_LEFT_RIGHT)
        folder = root / f"photo{i % len(photos):02d}"
        folder.mkdir(parents=True, exist_ok=True)
        if i % 4 == 3:
            crop.save(folder / f"{i:04d}.png")
        else:
            crop.save(folder / f"{i:04d}.jpg", quality=90)
    return root


def compare(name: str, model, source_spec, images: torch.Tensor, layers, batch_size: int, repeats: int, chunks: int, out: Path) -> dict:
    ratios, raws, passes = [], [], []
    for _ in range(repeats):
        result, raw, seconds, setup = interleaved(model, source_spec, images, layers, batch_size, chunks)
        raws.append(len(images) / raw)
        passes.append(result.items_seen / seconds)
        ratios.append(passes[-1] / raws[-1])
    start = time.perf_counter()
    write_examples(result, out)
    writing = time.perf_counter() - start
    best = max(range(repeats), key=lambda i: ratios[i])
    median = sorted(ratios)[repeats // 2]
    print(
        f"{name}: {result.items_seen} images, batch {batch_size}: raw forward {raws[best]:.0f} images/s, "
        f"examples pass {passes[best]:.0f} images/s, ratio {ratios[best]:.3f} (median {median:.3f}; per repeat "
        f"{', '.join(f'{r:.3f}' for r in ratios)}); setup per call {setup / chunks:.1f} s, "
        f"writing {sum(1 for _ in result.examples())} examples {writing:.1f} s",
        flush=True,
    )
    return {"ratio": ratios[best], "median": median}


def raw_projection_seconds(model, result, rows, batch_size: int) -> float:
    """The same number of forward+backward passes, batched: each row's input to its layer, gradient of its unit."""
    start = time.perf_counter()
    by_layer: dict[str, list] = {}
    for row in rows:
        by_layer.setdefault(row.layer, []).append(row)
    with torch.enable_grad():
        for layer, members in by_layer.items():
            with ActivationCapture(model.module, [layer]) as capture:
                for begin in range(0, len(members), batch_size):
                    chunk = members[begin:begin + batch_size]
                    x = torch.stack([torch.from_numpy(result.image(r.index)).permute(2, 0, 1).float() / 255 for r in chunk]).requires_grad_(True)
                    activation = capture.run(model.normalize(x))[layer]
                    seed = torch.zeros_like(activation)
                    for i, r in enumerate(chunk):
                        seed[i, r.channel, r.y, r.x] = 1.0
                    torch.autograd.grad(activation, x, seed)
    return time.perf_counter() - start


def projections(batch_size: int, repeats: int, units: int | None) -> None:
    """(c): projections of every top-9 example (of the first `units` channels of each layer; None: all) against the raw
    forward+backward cost of as many passes."""
    lite = load_model("efficientnet-lite0")
    layers = ["_blocks.4", "_blocks.12"]
    result = collect_examples(lite, "photos", layers, k=9)
    channels = None if units is None else {layer: range(units) for layer in layers}
    rows = [row for row in result.examples(channels) if row.kind == "max"]
    ours, raws, peaks, resident = [], [], [], 0.0
    for _ in range(repeats):
        meter = LiveTensorBytes()
        start = time.perf_counter()
        with meter:
            found = example_projections(lite, result, "deconvnet", batch_size=batch_size, channels=channels)
        ours.append(time.perf_counter() - start)
        peaks.append(meter.peak)
        resident = resident or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # before any raw pass ran
        assert len(found) == len(rows)
        raws.append(raw_projection_seconds(lite, result, rows, batch_size))
    best = min(range(repeats), key=lambda i: ours[i] / raws[i])
    print(
        f"projections of {len(rows)} top examples (17 photos, {','.join(layers)}, deconvnet, batch {batch_size}): "
        f"{ours[best]:.1f} s against {raws[best]:.1f} s raw forward+backward → ratio {ours[best] / raws[best]:.2f} "
        f"(per repeat {', '.join(f'{o / r:.2f}' for o, r in zip(ours, raws))}); peak live tensors "
        f"{max(peaks) / 2**30:.2f} GiB; process peak resident (pass + projections, before the raw passes) {resident:.2f} GiB",
        flush=True,
    )


SMOKE = {"threads": 1, "layers": 1, "batch_size": 16, "repeats": 1, "photos": 12, "chunks": 2, "fashion_images": 256, "projection_units": 1}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own choice)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--photos", type=int, default=306, help="images in the photo folder")
    parser.add_argument("--chunks", type=int, default=6, help="raw and examples alternate over this many chunks of the data")
    parser.add_argument("--skip", choices=["fashion", "photos", "projections"], action="append", default=[])
    parser.add_argument("--only", choices=["fashion", "photos", "projections"], default=None)
    parser.add_argument("--projection-batch", type=int, default=16)
    parser.add_argument("--projection-units", type=int, default=None, help="project the examples of the first N channels of each layer (default: all)")
    parser.add_argument("--layers", type=int, default=None, help="only the first N layers of the fashion and photo workloads (default: all)")
    parser.add_argument("--fashion-images", type=int, default=60_000, help="the first N images of the Fashion-MNIST training set")
    args = parse_args(parser, SMOKE)
    workloads = [args.only] if args.only else [w for w in ("fashion", "photos", "projections") if w not in args.skip]
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), batch {args.batch_size}, {args.repeats} repeats of {args.chunks} interleaved chunks", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if "fashion" in workloads:
            fashion = load_model("fashion-cnn")
            train, _ = load_fashion_mnist("train")
            train = train[: args.fashion_images]
            compare(f"fashion-mnist:train / fashion-cnn / {','.join(FASHION_LAYERS[: args.layers])}", fashion, "fashion-mnist:train",
                    train[:, None].float() / 255, FASHION_LAYERS[: args.layers], args.batch_size, args.repeats, args.chunks, tmp / "out-fashion")
        if "photos" in workloads:
            lite = load_model("efficientnet-lite0")
            folder = photo_folder(tmp / "photos", args.photos)
            source = open_source(folder)
            decoded = torch.stack([source.image(i, 3, 224) for i in range(len(source))])
            layers = LITE_LAYERS[: args.layers]
            compare(f"photo folder 224 px / efficientnet-lite0 / {','.join(layers)}", lite, folder,
                    decoded, layers, args.batch_size, args.repeats, min(args.chunks, 3), tmp / "out-photos")
        if "projections" in workloads:
            projections(args.projection_batch, min(args.repeats, 2), args.projection_units)


if __name__ == "__main__":
    main()
