"""Benchmark the audio core: making the collection, training the cold-start network, and its forward pass.

Reports, in one run:
  - clips/s for making a collection (music21 parse + FluidSynth render + WAV write), with the one-off start-up
    (music21 import, soundfont load and priming) separated from the steady rate;
  - seconds per training epoch of `MusicCNN` on those clips' log-mels (regressing WMF factors of simulated
    listeners), and training clips/s;
  - forward throughput in clips/s, examples-style (no gradient, batch `--batch-size`, 3 s clips), for:
    the front end alone (waveform → log-mel), the network up to `conv3` (what a dataset-examples pass over
    its last conv layer runs), and waveform → factors end to end;
  - `fl.examples` on the collection's WAV files (reading, checks, front end, network to conv3, ranking) against
    the raw forward waveform → conv3 on clips already in memory (target ≥ 0.9×).

Usage:
  PYTHONPATH=benchmarks python benchmarks/audio.py [--threads 1] [--clips 400] [--epochs 2] [--batch-size 64] [--repeats 3] [--listeners 1000] [--smoke]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

import featurelens as fl
from featurelens.audio.coldstart import log_mels_of
from featurelens.audio.collection import make_collection, read_clips
from featurelens.audio.factors import factorize
from featurelens.audio.listeners import simulate_listeners
from featurelens.audio.network import load_music_cnn
from featurelens.audio.train import train_music_cnn
from featurelens.capture import ActivationCapture

from _smoke import parse_args


def best_rate(work, items: int, repeats: int) -> float:
    """Items per second of `work()`, best of `repeats` (after one warm-up call)."""
    work()
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        seconds.append(time.perf_counter() - start)
    return items / min(seconds)


def examples_against_raw(folder: Path, waveforms: torch.Tensor, batch_size: int, repeats: int) -> dict[str, float]:
    """Clips/s of `fl.examples` on the folder's WAV files (conv3, k=9) and of the raw forward waveform → conv3 over the
    same clips already in memory, in the same batches, best of `repeats` each; the median ratio of the rounds; and the
    ratio of the CPU seconds each took (all threads of the process: the work, whatever else runs on the machine).
    The two alternate, so each round's ratio compares runs seconds apart (on a shared machine the load drifts)."""
    model = fl.load_model("music-cnn")
    wall, cpu = {"examples": [], "raw": []}, {"examples": [], "raw": []}
    for _ in range(repeats + 1):  # the first round warms up
        started = time.process_time()
        wall["examples"].append(fl.examples(model, str(folder), "conv3", k=9, batch_size=batch_size).seconds)
        cpu["examples"].append(time.process_time() - started)
        with torch.no_grad(), ActivationCapture(model.module, ["conv3"]) as capture:
            start, started = time.perf_counter(), time.process_time()
            for first in range(0, len(waveforms), batch_size):
                capture.run(model.audio.spectrogram(waveforms[first:first + batch_size]))
            wall["raw"].append(time.perf_counter() - start)
            cpu["raw"].append(time.process_time() - started)
    ratios = sorted(raw / examples for raw, examples in zip(wall["raw"][1:], wall["examples"][1:]))
    clips = len(waveforms)
    return {"examples": clips / min(wall["examples"][1:]), "raw": clips / min(wall["raw"][1:]),
            "median": ratios[len(ratios) // 2], "cpu": min(cpu["raw"][1:]) / min(cpu["examples"][1:])}


SMOKE = {"clips": 8, "epochs": 1, "batch_size": 8, "repeats": 1, "listeners": 50}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--clips", type=int, default=400)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--listeners", type=int, default=1000, help="simulated listeners whose plays give the training targets")
    args = parse_args(parser, SMOKE)
    torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "collection"
        first = time.perf_counter()
        stamps = []
        made = make_collection(folder, clips=args.clips, seed=0, progress=lambda done, total: stamps.append(
            (done, time.perf_counter())))
        startup = stamps[1][1] - first  # up to the first clip: imports, soundfont load, priming, first song
        steady = (stamps[-1][0] - stamps[1][0]) / (stamps[-1][1] - stamps[1][1])
        print(f"collection: {made.made} clips of 3 s in {made.seconds:.1f} s = {made.clips_per_second:.1f} clips/s "
              f"overall; start-up {startup:.1f} s, then {steady:.1f} clips/s ({steady * 3:.0f}× real time)")

        labels = made.labels()
        model = load_music_cnn()
        waveforms = torch.from_numpy(read_clips(folder, labels))
        against = examples_against_raw(folder, waveforms, args.batch_size, 2 * args.repeats + 1)
    log_mels = log_mels_of(waveforms, model.frontend)
    plays = simulate_listeners(labels, listeners=args.listeners, seed=0).plays
    targets = torch.from_numpy(factorize(plays, factors=model.factors).item_factors)
    result = train_music_cnn(log_mels, targets, epochs=args.epochs, batch_size=64)
    per_epoch = min(result.epoch_seconds)
    print(f"training: {per_epoch:.2f} s/epoch on {len(log_mels)} clips = {len(log_mels) / per_epoch:.0f} clips/s "
          f"(batch 64, best of {args.epochs} epochs)")

    batch = waveforms[: args.batch_size]
    spectra = log_mels[: args.batch_size]
    with torch.no_grad():
        frontend = best_rate(lambda: model.log_mel(batch), len(batch), args.repeats)
        with ActivationCapture(model.module, ["conv3"]) as capture:
            to_conv3 = best_rate(lambda: capture.run(spectra), len(batch), args.repeats)
            examples = best_rate(lambda: capture.run(model.log_mel(batch)), len(batch), args.repeats)
        end_to_end = best_rate(lambda: model.module(model.log_mel(batch)), len(batch), args.repeats)
    print(f"forward, batch {len(batch)}, 3 s clips, {torch.get_num_threads()} thread(s):")
    print(f"  front end (waveform → log-mel)      {frontend:8.0f} clips/s")
    print(f"  network to conv3 (from log-mel)     {to_conv3:8.0f} clips/s")
    print(f"  waveform → conv3 (examples pass)    {examples:8.0f} clips/s")
    print(f"  waveform → factors                  {end_to_end:8.0f} clips/s")
    print(f"examples: fl.examples(music-cnn, {len(waveforms)} WAV files, conv3, k=9): {against['examples']:.0f} clips/s; "
          f"the raw forward waveform → conv3 over the same clips in memory, same batches: {against['raw']:.0f} clips/s; "
          f"ratio of the bests {against['examples'] / against['raw']:.2f}×, median ratio of {2 * args.repeats + 1} "
          f"alternating rounds {against['median']:.2f}×, ratio of CPU seconds {against['cpu']:.2f}× "
          "(files read, checked and ranked)")


if __name__ == "__main__":
    main()
