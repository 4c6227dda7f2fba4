"""Do a dictionary feature's renders show what its examples are? Judged transfer of neuron and feature renders.

Issue #19 point 5. For each unit of fashion-cnn's `conv3` (its 128 neurons, and the live features of a dictionary over
it, `conv3/dict:F`), the class its top 9 test images mostly come from is known (`dictionary.purity`). Its max render
(render defaults, `--steps`) is shown to another model trained from another seed, `fashion-cnn-seed1`, which never
saw the unit: the render *transfers* when that judge names the same class. Rows: the share of units whose render the
judge puts in their examples' class, and the judge's mean probability for it, over all units and over the pure ones
(≥ 7 of their top 9 from one class), for neurons and for features.

Usage:
  PYTHONPATH=src:benchmarks python benchmarks/feature_transfer.py [--dictionary fashion-cnn:conv3] [--steps 128] [--limit N] [--units N] [--smoke]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import featurelens as fl
from featurelens.data.sources import open_source
from featurelens.dictionary.file import load_dictionary
from featurelens.dictionary.labels import labels_of
from featurelens.dictionary.metrics import measure
from featurelens.dictionary.purity import PURE, TOP, Purity, feature_purity, unit_purity
from featurelens.models import LoadedModel, model_for

from _smoke import parse_args

DATA = "fashion-mnist:test"
JUDGE = "fashion-cnn-seed1"
SMOKE = {"steps": 4, "limit": 300, "units": 8}


@torch.no_grad()
def judge_probabilities(judge: LoadedModel, images: np.ndarray) -> torch.Tensor:
    """The judge's class probabilities [N, classes] for uint8 renders [N, H, W, C] at its input size."""
    batch = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 255
    return judge.module(judge.normalize(batch.to(judge.device))).float().softmax(1).cpu()


def transfer_row(name: str, model: LoadedModel, judge: LoadedModel, layer: str, units: list[int], purity: Purity,
                 steps: int) -> str:
    """One table row: render `layer`'s `units`, judge them, compare with each unit's examples' class."""
    start = time.perf_counter()
    rendered = fl.render(model, [f"{layer}:{u}" for u in units], steps=steps, progress=False)
    probabilities = judge_probabilities(judge, rendered.images)
    majority = purity.majority[units]
    agrees = probabilities.argmax(1) == majority
    chance = probabilities[torch.arange(len(units)), majority]
    pure = purity.purity[units] >= PURE / TOP - 1e-6
    return (f"| {name} | {len(units)} | {agrees.float().mean():.2f} | {chance.mean():.2f} | {int(pure.sum())} | "
            f"{agrees[pure].float().mean() if pure.any() else float('nan'):.2f} | {time.perf_counter() - start:.0f} s |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dictionary", default="fashion-cnn:conv3", help="a dictionary over fashion-cnn's conv3")
    parser.add_argument("--steps", type=int, default=128, help="render steps (render defaults otherwise)")
    parser.add_argument("--limit", type=int, default=None, help=f"the first N items of {DATA} rank the examples")
    parser.add_argument("--units", type=int, default=None, help="at most this many neurons and features (the first)")
    args = parse_args(parser, SMOKE)
    dictionary = load_dictionary(args.dictionary)
    base, judge = fl.load_model("fashion-cnn"), fl.load_model(JUDGE)
    source, labels = open_source(DATA), labels_of(DATA)
    if args.limit is not None:
        labels = labels[:args.limit]
    neurons = unit_purity(base, source, dictionary.layer, labels, limit=args.limit)
    features = feature_purity(base, dictionary, source, labels, limit=args.limit)
    live = measure(base, dictionary, source, 28, labels, limit=args.limit).live
    model = model_for(base, dictionaries=[args.dictionary])  # features as the units LAYER/NAME:F, for render
    neuron_units = list(range(len(neurons.purity)))[:args.units]
    feature_units = torch.nonzero(live).flatten().tolist()[:args.units]
    print(f"judge {JUDGE}; renders {args.steps} steps, defaults; examples from {DATA}"
          f"{f' (first {args.limit})' if args.limit else ''}")
    print(f"| units | count | judged as their examples' class | judge's mean probability of it | pure (≥ {PURE} of {TOP}) "
          f"| judged so, pure ones | time |")
    print("|---|---|---|---|---|---|---|")
    print(transfer_row(f"{dictionary.layer} neurons", model, judge, dictionary.layer, neuron_units, neurons, args.steps))
    print(transfer_row(f"{dictionary.address} live features", model, judge, dictionary.address, feature_units, features,
                       args.steps))


if __name__ == "__main__":
    main()
