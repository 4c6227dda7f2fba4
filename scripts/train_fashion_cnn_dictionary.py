"""Retrain the shipped dictionary over fashion-cnn's conv3: `python scripts/train_fashion_cnn_dictionary.py` writes
./fashion_cnn_conv3_dict.pt.

The recipe behind `src/featurelens/models/weights/fashion_cnn_conv3_dict.pt` (`--dictionary fashion-cnn:conv3`): the
settings in `RECIPE` (an anchored dictionary set in closed form, `dictionary.closed_form`: no gradient steps), fitted
on fashion-mnist:train and measured on fashion-mnist:test, seed 0. The same seed gives the same bytes on the same
machine and thread count (`--threads`; another CPU may give other floats with about the same figures; here `--threads
2` gave the same tensors as 1; the shipped file: `--threads 1`, 1 to 2 minutes with the measuring on a shared 2-core
machine; a rerun gave it byte for byte). Output goes where `--out` says, never into the installed package: the shipped file changes
only by copying a checked retrain over it by hand. To compare hashes, keep the default name (`--out fashion_cnn_conv3_dict.pt`, in
another folder if you like): torch names the archive's folder after the file name, and the shipped file was saved
under that one. The same run from the command line:

    featurelens dictionary -m fashion-cnn --layer conv3 --data fashion-mnist:train --out fashion_cnn_conv3_dict.pt \\
        --method topk --anchored --closed-form --features 1024 --k 128 --steps 64
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from featurelens.dictionary.api import DictionarySettings, learn_dictionary

RECIPE = DictionarySettings(method="topk", anchored=True, closed_form=True, features=1024, k=128, steps=64)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("fashion_cnn_conv3_dict.pt"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--steps", type=int, default=None, help="stop after N steps (a smoke run of the same recipe)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    settings = RECIPE if args.steps is None else DictionarySettings(**{**RECIPE.__dict__, "steps": args.steps})
    result = learn_dictionary("fashion-cnn", "fashion-mnist:train", "conv3", settings, seed=args.seed, progress=True)
    result.save(args.out)
    print(result.summary())
    print(f"wrote {args.out} ({torch.get_num_threads()} threads)")


if __name__ == "__main__":
    main()
