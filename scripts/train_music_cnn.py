"""Make the music collection, simulate listeners, factorise, train the cold-start CNN, save its weights.

    PYTHONPATH=src python scripts/train_music_cnn.py            # ≈ 5 min for the clips (once), then training

Writes ./music_cnn.pt (`--out`; never inside the package: the shipped
`src/featurelens/audio/weights/music_cnn.pt` changes only by copying a checked retrain over it by hand);
load it as the model spec `music-cnn:music_cnn.pt`.

Prints the cold-start evaluation table (held-out songs) that benchmarks/RESULTS.md records.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

import featurelens

from featurelens.audio.coldstart import collection_inputs, run_cold_start
from featurelens.audio.collection import make_collection
from featurelens.audio.evaluate import family_selectivity, results_table, unit_peaks
from featurelens.audio.listeners import Tastes
from featurelens.audio.network import save_music_model

# The package's source beside this script and the featurelens Python imports (the same folder in an editable install).
PACKAGES = {(Path(__file__).resolve().parents[1] / "src/featurelens").resolve(), Path(featurelens.__file__).resolve().parent}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--collection", type=Path, default=Path.home() / ".cache/featurelens/music-collection")
    parser.add_argument("--clips", type=int, default=6000)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--listeners", type=int, default=3000)
    parser.add_argument("--factors", type=int, default=32)
    parser.add_argument("--family-strength", type=float, default=Tastes().family_strength,
                        help="how much listeners' instrument-family tastes sway their plays (see listeners.py)")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", "--output", dest="out", type=Path, default=Path("music_cnn.pt"),
                        help="weights file (default: ./music_cnn.pt; never inside the package)")
    args = parser.parse_args()
    if any(args.out.expanduser().resolve().is_relative_to(package) for package in PACKAGES):
        raise SystemExit(f"error: --out {args.out} is inside the featurelens package; write elsewhere (the shipped "
                         "weights change only by copying a checked retrain over them by hand)")
    torch.set_num_threads(args.threads)

    def made(done: int, total: int) -> None:
        if done % 500 == 0 or done == total:
            print(f"clips {done}/{total}", flush=True)

    collection = make_collection(args.collection, clips=args.clips, seconds=args.seconds, seed=args.seed, progress=made)
    print(f"collection: {collection.clips} clips in {collection.folder} ({collection.made} made in "
          f"{collection.seconds:.0f} s, {collection.clips_per_second:.1f} clips/s; {collection.failed_songs} songs "
          f"skipped)", flush=True)

    started = time.perf_counter()

    def trained(epoch: int, batch: int, batches: int, loss: float) -> None:
        if batch == batches - 1:
            print(f"epoch {epoch + 1}/{args.epochs} last batch loss {loss:.4f} "
                  f"({time.perf_counter() - started:.0f} s)", flush=True)

    labels, log_mels = collection_inputs(collection.folder)
    tastes = Tastes(family_strength=args.family_strength)
    result = run_cold_start(labels, log_mels, listeners=args.listeners, tastes=tastes, factors=args.factors,
                            epochs=args.epochs, seed=args.seed, progress=trained)
    per_epoch = sum(result.training.epoch_seconds) / max(result.training.epochs, 1)
    print(f"trained {result.training.epochs} epochs on {len(result.train_items)} clips, {per_epoch:.1f} s/epoch "
          f"({torch.get_num_threads()} threads); {len(result.test_items)} held-out clips, "
          f"{len(result.plays.users)} listeners, {len(result.plays.plays)} (listener, clip) pairs")
    print(results_table(result.scores))
    module = result.model.module
    peaks = unit_peaks(module, log_mels[result.test_items], module.last_conv)
    families = np.array(labels["family"].to_pylist())[result.test_items]
    best = family_selectivity(peaks, families)
    print(f"{module.last_conv} units, held-out clips: best unit per family, how many of its top 9 are that family: "
          + ", ".join(f"{family} {hits} (unit {unit})" for family, (unit, hits) in best.items()))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_music_model(result.model, args.out, extra={
        "seed": args.seed, "clips": collection.clips, "listeners": args.listeners, "epochs": result.training.epochs,
        "scores": {s.method: [s.auc, s.precision] for s in result.scores}})
    print(f"saved {args.out} ({args.out.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
